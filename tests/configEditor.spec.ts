import { expect, test } from '@grafana/plugin-e2e';

import { StitchJsonData, StitchSecureJsonData } from '../src/types';

// These run against a Grafana started with `npm run server` (docker compose) and the provisioned
// data source in provisioning/datasources/datasources.yml. They check the editor, not the stores:
// "Save & test" needs live Jaeger/VictoriaLogs/Prometheus and is not asserted here.

test('smoke: config editor renders the three stores', async ({ createDataSourceConfigPage, page }) => {
  await createDataSourceConfigPage({ type: 'stitch-sessions-datasource' });
  for (const store of ['Traces', 'Logs', 'Metrics']) {
    await expect(page.getByRole('group', { name: store })).toBeVisible();
  }
  await expect(page.getByText('No store configured')).toBeVisible();
});

test('provisioned data source shows its store URLs', async ({
  readProvisionedDataSource,
  gotoDataSourceConfigPage,
  page,
}) => {
  const ds = await readProvisionedDataSource<StitchJsonData, StitchSecureJsonData>({ fileName: 'datasources.yml' });
  await gotoDataSourceConfigPage(ds.uid);
  await expect(page.getByRole('group', { name: 'Traces' }).getByRole('textbox', { name: /^URL/ })).toHaveValue(
    ds.jsonData.traces?.url ?? ''
  );
  await expect(page.getByRole('group', { name: 'Logs' }).getByRole('textbox', { name: /^URL/ })).toHaveValue(
    ds.jsonData.logs?.url ?? ''
  );
});
