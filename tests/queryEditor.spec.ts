import { expect, test } from '@grafana/plugin-e2e';

test('smoke: query editor defaults to a sessions query', async ({ panelEditPage, readProvisionedDataSource }) => {
  const ds = await readProvisionedDataSource({ fileName: 'datasources.yml' });
  await panelEditPage.datasource.set(ds.name);
  const row = panelEditPage.getQueryEditorRow('A');
  await expect(row.getByRole('textbox', { name: 'App service' })).toBeVisible();
  await expect(row.getByRole('spinbutton', { name: 'Limit' })).toHaveValue('100');
});

test('switching to session timeline shows the session id field', async ({
  panelEditPage,
  readProvisionedDataSource,
  page,
}) => {
  const ds = await readProvisionedDataSource({ fileName: 'datasources.yml' });
  await panelEditPage.datasource.set(ds.name);
  const row = panelEditPage.getQueryEditorRow('A');
  await row.getByLabel('Query type').click();
  await page.getByRole('option', { name: /Session timeline/ }).click();
  await expect(row.getByRole('textbox', { name: 'Session ID' })).toBeVisible();
  await expect(row.getByRole('textbox', { name: 'App service' })).toHaveCount(0);
});
