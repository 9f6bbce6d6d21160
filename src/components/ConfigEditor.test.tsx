import React, { useState } from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import {
  SECURE_KEYS,
  SECURE_SUFFIXES,
  STORE_ROLES,
  SecureKey,
  SecureSuffix,
  StitchJsonData,
  StitchSecureJsonData,
  StoreRole,
  StoreSettings,
} from '../types';

type Options = DataSourceSettings<StitchJsonData, StitchSecureJsonData>;

function makeOptions(overrides: Partial<Options> = {}): Options {
  return {
    id: 1,
    uid: 'stitch',
    orgId: 1,
    name: 'Stitch',
    typeLogoUrl: '',
    type: 'stitch-sessions-datasource',
    typeName: 'Stitch',
    access: 'proxy',
    url: '',
    user: '',
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- still a required field of DataSourceSettings
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData: {},
    secureJsonFields: {},
    readOnly: false,
    withCredentials: false,
    ...overrides,
  };
}

const TRACES: StoreSettings = {
  kind: 'jaeger',
  url: 'http://127.0.0.1:16686',
  auth: 'none',
  tlsSkipVerify: false,
  timeoutSeconds: 30,
};
const LOGS: StoreSettings = {
  kind: 'victorialogs',
  url: 'http://127.0.0.1:9428',
  auth: 'basic',
  basicAuthUser: 'vl',
  accountId: '12',
  projectId: '3',
  timeoutSeconds: 15,
};
const METRICS: StoreSettings = {
  kind: 'prometheus',
  url: 'http://127.0.0.1:9090',
  auth: 'bearer',
  tenant: 'team-a',
  tlsServerName: 'prom.internal',
  timeoutSeconds: 45,
};

/** The auth mode under which the given secret's input is on screen. */
function authShowing(suffix: SecureSuffix): StoreSettings['auth'] {
  if (suffix === 'BasicAuthPassword') {
    return 'basic';
  }
  if (suffix === 'BearerToken') {
    return 'bearer';
  }
  return 'none';
}

function roleAndSuffix(key: SecureKey): [StoreRole, SecureSuffix] {
  for (const role of STORE_ROLES) {
    for (const suffix of SECURE_SUFFIXES) {
      if (`${role}${suffix}` === key) {
        return [role, suffix];
      }
    }
  }
  throw new Error(`unknown key ${key}`);
}

/** jsonData with all three stores configured and the auth mode that shows `key`'s input. */
function jsonDataShowing(key: SecureKey): StitchJsonData {
  const [role, suffix] = roleAndSuffix(key);
  const jsonData: StitchJsonData = { traces: { ...TRACES }, logs: { ...LOGS }, metrics: { ...METRICS } };
  jsonData[role] = { ...jsonData[role], auth: authShowing(suffix) };
  return jsonData;
}

function allKeys<T>(value: (key: SecureKey) => T): Record<SecureKey, T> {
  return Object.fromEntries(SECURE_KEYS.map((k) => [k, value(k)])) as Record<SecureKey, T>;
}

function secretInput(key: SecureKey): HTMLInputElement | HTMLTextAreaElement {
  const [role, suffix] = roleAndSuffix(key);
  const el = document.getElementById(`stitch-${role}-${suffix}`);
  if (!el) {
    throw new Error(`no input for ${key}`);
  }
  return el as HTMLInputElement | HTMLTextAreaElement;
}

function lastOptions(spy: jest.Mock): Options {
  expect(spy).toHaveBeenCalled();
  return spy.mock.calls[spy.mock.calls.length - 1][0];
}

/** Keeps the options in state, like Grafana's data source page does. */
function Harness({ initial, spy }: { initial: Options; spy: jest.Mock }) {
  const [options, setOptions] = useState(initial);
  return (
    <ConfigEditor
      options={options}
      onOptionsChange={(next) => {
        spy(next);
        setOptions(next);
      }}
    />
  );
}

function group(name: string) {
  return screen.getByRole('group', { name });
}

/** Opens a Grafana Select (react-select) by its input and picks the option with this text. */
function chooseOption(input: HTMLElement, optionText: string) {
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  const menu = screen.getByRole('listbox');
  fireEvent.click(within(menu).getByText(optionText));
}

describe('ConfigEditor secrets', () => {
  it('has 15 secure keys', () => {
    expect(SECURE_KEYS).toHaveLength(15);
  });

  it.each(SECURE_KEYS)('changing %s keeps every other unsaved secret in secureJsonData', (key) => {
    const spy = jest.fn();
    const secureJsonData = allKeys((k) => `old-${k}`);
    render(
      <ConfigEditor
        options={makeOptions({
          jsonData: jsonDataShowing(key),
          secureJsonData,
          secureJsonFields: allKeys(() => false),
        })}
        onOptionsChange={spy}
      />
    );

    const input = secretInput(key);
    expect(input.value).toBe(`old-${key}`);
    fireEvent.change(input, { target: { value: `new-${key}` } });

    const emitted = lastOptions(spy);
    expect(emitted.secureJsonData).toEqual({ ...secureJsonData, [key]: `new-${key}` });
    expect(emitted.secureJsonFields).toEqual(allKeys(() => false));
  });

  it.each(SECURE_KEYS)('changing %s keeps every other configured secret configured', (key) => {
    const spy = jest.fn();
    const secureJsonFields = { ...allKeys(() => true), [key]: false };
    render(
      <ConfigEditor
        options={makeOptions({ jsonData: jsonDataShowing(key), secureJsonFields, secureJsonData: {} })}
        onOptionsChange={spy}
      />
    );

    fireEvent.change(secretInput(key), { target: { value: 'fresh' } });

    const emitted = lastOptions(spy);
    // Only the edited key is sent; the others stay configured on the server (absent = unchanged).
    expect(emitted.secureJsonData).toEqual({ [key]: 'fresh' });
    expect(emitted.secureJsonFields).toEqual(secureJsonFields);
  });

  it.each(SECURE_KEYS)('reset of %s clears only that key', (key) => {
    const spy = jest.fn();
    const pending = { tracesBearerToken: 'typed-but-unsaved' };
    render(
      <ConfigEditor
        options={makeOptions({
          jsonData: jsonDataShowing(key),
          secureJsonFields: allKeys(() => true),
          secureJsonData: key === 'tracesBearerToken' ? {} : pending,
        })}
        onOptionsChange={spy}
      />
    );

    fireEvent.click(within(screen.getByTestId(`secret-${key}`)).getByRole('button', { name: 'Reset' }));

    const emitted = lastOptions(spy);
    expect(emitted.secureJsonFields).toEqual({ ...allKeys(() => true), [key]: false });
    expect(emitted.secureJsonData).toEqual(key === 'tracesBearerToken' ? { [key]: '' } : { ...pending, [key]: '' });
  });

  it('keeps secrets typed one after another in different stores', () => {
    const spy = jest.fn();
    const jsonData: StitchJsonData = {
      traces: { ...TRACES, auth: 'bearer' },
      logs: { ...LOGS, auth: 'basic' },
      metrics: { ...METRICS, auth: 'bearer' },
    };
    render(<Harness initial={makeOptions({ jsonData, secureJsonFields: { metricsBearerToken: true } })} spy={spy} />);

    fireEvent.change(within(group('Traces')).getByLabelText('Bearer token'), { target: { value: 't-token' } });
    fireEvent.change(within(group('Logs')).getByLabelText('Password'), { target: { value: 'l-pass' } });
    fireEvent.change(secretInput('metricsTLSCACert'), { target: { value: 'CA PEM' } });
    fireEvent.change(secretInput('tracesTLSClientKey'), { target: { value: 'KEY PEM' } });

    const emitted = lastOptions(spy);
    expect(emitted.secureJsonData).toEqual({
      tracesBearerToken: 't-token',
      logsBasicAuthPassword: 'l-pass',
      metricsTLSCACert: 'CA PEM',
      tracesTLSClientKey: 'KEY PEM',
    });
    expect(emitted.secureJsonFields).toEqual({ metricsBearerToken: true });
    // The configured metrics token is still shown as configured, not as an empty input.
    expect(within(screen.getByTestId('secret-metricsBearerToken')).getByDisplayValue('configured')).toBeDisabled();
  });

  it('reset then re-enter one secret leaves the others configured', () => {
    const spy = jest.fn();
    render(
      <Harness
        initial={makeOptions({
          jsonData: { traces: { ...TRACES, auth: 'basic' } },
          secureJsonFields: { tracesBasicAuthPassword: true, tracesTLSCACert: true, logsBearerToken: true },
        })}
        spy={spy}
      />
    );

    fireEvent.click(within(screen.getByTestId('secret-tracesTLSCACert')).getByRole('button', { name: 'Reset' }));
    fireEvent.change(secretInput('tracesTLSCACert'), { target: { value: 'NEW CA' } });

    const emitted = lastOptions(spy);
    expect(emitted.secureJsonFields).toEqual({
      tracesBasicAuthPassword: true,
      tracesTLSCACert: false,
      logsBearerToken: true,
    });
    expect(emitted.secureJsonData).toEqual({ tracesTLSCACert: 'NEW CA' });
  });
});

describe('ConfigEditor kinds', () => {
  it('shows the tenant field for tempo traces only', () => {
    const spy = jest.fn();
    render(<Harness initial={makeOptions({ jsonData: { traces: { ...TRACES } } })} spy={spy} />);
    const traces = group('Traces');
    expect(within(traces).queryByLabelText(/^Tenant/)).not.toBeInTheDocument();

    chooseOption(within(traces).getByLabelText('Kind'), 'Tempo');

    expect(lastOptions(spy).jsonData.traces).toEqual({ ...TRACES, kind: 'tempo' });
    const tenant = within(group('Traces')).getByLabelText(/^Tenant/);
    fireEvent.change(tenant, { target: { value: 'org-1' } });
    expect(lastOptions(spy).jsonData.traces).toEqual({ ...TRACES, kind: 'tempo', tenant: 'org-1' });
  });

  it('shows accountId/projectId for victorialogs and tenant for loki, dropping the other kind’s fields', () => {
    const spy = jest.fn();
    const loki: StoreSettings = { kind: 'loki', url: 'http://127.0.0.1:3100', auth: 'none', tenant: 'acme' };
    render(<Harness initial={makeOptions({ jsonData: { logs: loki, traces: { ...TRACES } } })} spy={spy} />);

    let logs = group('Logs');
    expect(within(logs).getByLabelText(/^Tenant/)).toHaveValue('acme');
    expect(within(logs).queryByLabelText(/^Account ID/)).not.toBeInTheDocument();
    expect(within(logs).queryByLabelText(/^Project ID/)).not.toBeInTheDocument();

    chooseOption(within(logs).getByLabelText('Kind'), 'VictoriaLogs');

    logs = group('Logs');
    expect(within(logs).queryByLabelText(/^Tenant/)).not.toBeInTheDocument();
    fireEvent.change(within(logs).getByLabelText(/^Account ID/), { target: { value: '42' } });
    fireEvent.change(within(logs).getByLabelText(/^Project ID/), { target: { value: '7' } });

    const emitted = lastOptions(spy).jsonData;
    expect(emitted.logs).toEqual({
      kind: 'victorialogs',
      url: 'http://127.0.0.1:3100',
      auth: 'none',
      accountId: '42',
      projectId: '7',
    });
    expect(emitted.traces).toEqual(TRACES);
  });

  it('flags a non-numeric VictoriaLogs account id', () => {
    render(
      <ConfigEditor
        options={makeOptions({ jsonData: { logs: { ...LOGS, accountId: '12a' } } })}
        onOptionsChange={jest.fn()}
      />
    );
    expect(within(group('Logs')).getAllByText('Digits only')).toHaveLength(1);
  });

  it('takes the data source links open for traces and logs, not for metrics, and checks the uid', () => {
    const spy = jest.fn();
    render(<Harness initial={makeOptions({ jsonData: { traces: TRACES, logs: LOGS, metrics: METRICS } })} spy={spy} />);
    expect(within(group('Metrics')).queryByLabelText(/^Data source for links/)).toBeNull();

    fireEvent.change(within(group('Traces')).getByLabelText(/^Data source for links/), {
      target: { value: 'tempo-prod' },
    });
    expect(lastOptions(spy).jsonData.traces).toEqual({ ...TRACES, linkDatasourceUid: 'tempo-prod' });
    expect(within(group('Traces')).queryByText(/A data source uid/)).toBeNull();

    fireEvent.change(within(group('Logs')).getByLabelText(/^Data source for links/), {
      target: { value: 'loki prod' },
    });
    expect(within(group('Logs')).getByText('A data source uid: 1 to 40 letters, digits, - and _')).toBeInTheDocument();
    expect(lastOptions(spy).jsonData.traces?.linkDatasourceUid).toBe('tempo-prod');
  });

  it('takes the request-duration histogram for metrics only, and checks the name', () => {
    const spy = jest.fn();
    render(<Harness initial={makeOptions({ jsonData: { traces: TRACES, logs: LOGS, metrics: METRICS } })} spy={spy} />);
    expect(within(group('Traces')).queryByLabelText(/^Request-duration histogram/)).toBeNull();
    expect(within(group('Logs')).queryByLabelText(/^Request-duration histogram/)).toBeNull();
    const input = within(group('Metrics')).getByLabelText(/^Request-duration histogram/);
    expect(input).toHaveValue('');
    expect(input).toHaveAttribute('placeholder', 'stitch_requests_duration_milliseconds');

    fireEvent.change(input, { target: { value: 'http_client_request_duration_seconds' } });
    expect(lastOptions(spy).jsonData.metrics).toEqual({
      ...METRICS,
      requestDurationMetric: 'http_client_request_duration_seconds',
    });
    expect(lastOptions(spy).jsonData.traces).toEqual(TRACES);
    expect(within(group('Metrics')).queryByText(/A Prometheus metric name/)).toBeNull();

    fireEvent.change(input, { target: { value: 'requests{job="x"}' } });
    expect(
      within(group('Metrics')).getByText(
        'A Prometheus metric name: letters, digits, _ and :, not starting with a digit'
      )
    ).toBeInTheDocument();
  });

  it('always offers an optional tenant for metrics', () => {
    render(
      <ConfigEditor options={makeOptions({ jsonData: { metrics: { ...METRICS } } })} onOptionsChange={jest.fn()} />
    );
    expect(within(group('Metrics')).getByLabelText(/^Tenant/)).toHaveValue('team-a');
  });
});

describe('ConfigEditor jsonData', () => {
  const jsonData: StitchJsonData = { traces: TRACES, logs: LOGS, metrics: METRICS };

  it('editing one store keeps the other stores’ settings and the secrets', () => {
    const spy = jest.fn();
    const secureJsonData = { logsBasicAuthPassword: 'pw' };
    render(
      <ConfigEditor
        options={makeOptions({ jsonData, secureJsonData, secureJsonFields: { metricsBearerToken: true } })}
        onOptionsChange={spy}
      />
    );

    fireEvent.change(within(group('Traces')).getByLabelText(/^URL/), { target: { value: 'https://jaeger.example' } });

    const emitted = lastOptions(spy);
    expect(emitted.jsonData).toEqual({ ...jsonData, traces: { ...TRACES, url: 'https://jaeger.example' } });
    expect(emitted.secureJsonData).toEqual(secureJsonData);
    expect(emitted.secureJsonFields).toEqual({ metricsBearerToken: true });
  });

  it('edits auth user, TLS and timeout of one store only', () => {
    const spy = jest.fn();
    render(<Harness initial={makeOptions({ jsonData })} spy={spy} />);
    const logs = group('Logs');

    fireEvent.change(within(logs).getByLabelText('User'), { target: { value: 'reader' } });
    fireEvent.click(within(logs).getByLabelText(/^Skip TLS verify/));
    fireEvent.change(within(logs).getByLabelText(/^TLS server name/), { target: { value: 'logs.internal' } });
    fireEvent.change(within(logs).getByLabelText('Timeout (seconds)'), { target: { value: '60' } });

    const emitted = lastOptions(spy).jsonData;
    expect(emitted.logs).toEqual({
      ...LOGS,
      basicAuthUser: 'reader',
      tlsSkipVerify: true,
      tlsServerName: 'logs.internal',
      timeoutSeconds: 60,
    });
    expect(emitted.traces).toEqual(TRACES);
    expect(emitted.metrics).toEqual(METRICS);
  });

  it('switching auth shows the matching secret inputs', () => {
    const spy = jest.fn();
    render(<Harness initial={makeOptions({ jsonData: { traces: { ...TRACES } } })} spy={spy} />);
    expect(within(group('Traces')).queryByLabelText('Bearer token')).not.toBeInTheDocument();

    chooseOption(within(group('Traces')).getByLabelText('Authentication'), 'Bearer token');
    expect(lastOptions(spy).jsonData.traces?.auth).toBe('bearer');
    expect(within(group('Traces')).getByLabelText('Bearer token')).toBeInTheDocument();
    expect(within(group('Traces')).queryByLabelText('Password')).not.toBeInTheDocument();

    chooseOption(within(group('Traces')).getByLabelText('Authentication'), 'Basic authentication');
    expect(within(group('Traces')).getByLabelText('User')).toBeInTheDocument();
    expect(within(group('Traces')).getByLabelText('Password')).toBeInTheDocument();
    expect(within(group('Traces')).queryByLabelText('Bearer token')).not.toBeInTheDocument();
  });

  it('turning a store off removes only that store; turning it on gives defaults', () => {
    const spy = jest.fn();
    const secureJsonFields = { logsBasicAuthPassword: true };
    render(<Harness initial={makeOptions({ jsonData, secureJsonFields })} spy={spy} />);

    fireEvent.click(within(group('Logs')).getByLabelText(/^Enabled/));
    let emitted = lastOptions(spy);
    expect(emitted.jsonData).toEqual({ traces: TRACES, metrics: METRICS });
    expect('logs' in emitted.jsonData).toBe(false);
    expect(emitted.secureJsonFields).toEqual(secureJsonFields);
    expect(within(group('Logs')).queryByLabelText(/^URL/)).not.toBeInTheDocument();

    fireEvent.click(within(group('Logs')).getByLabelText(/^Enabled/));
    emitted = lastOptions(spy);
    expect(emitted.jsonData.logs).toEqual({ kind: 'victorialogs', url: '', auth: 'none', timeoutSeconds: 30 });
    expect(emitted.jsonData.traces).toEqual(TRACES);
  });

  it('warns when no store is configured', () => {
    render(<ConfigEditor options={makeOptions()} onOptionsChange={jest.fn()} />);
    expect(screen.getByText('No store configured')).toBeInTheDocument();
    for (const name of ['Traces', 'Logs', 'Metrics']) {
      expect(within(group(name)).getByLabelText(/^Enabled/)).not.toBeChecked();
    }
  });

  it('clearing the timeout removes the key instead of storing 0', () => {
    const spy = jest.fn();
    render(<ConfigEditor options={makeOptions({ jsonData })} onOptionsChange={spy} />);
    fireEvent.change(within(group('Metrics')).getByLabelText('Timeout (seconds)'), { target: { value: '' } });
    const metrics = lastOptions(spy).jsonData.metrics;
    expect(metrics).toBeDefined();
    expect(metrics && 'timeoutSeconds' in metrics).toBe(false);
  });
});
