import {
  CoreApp,
  DataQueryRequest,
  DataSourceInstanceSettings,
  LoadingState,
  ScopedVars,
  TimeRange,
  dateTime,
} from '@grafana/data';
import { BackendSrv, setBackendSrv } from '@grafana/runtime';
import { lastValueFrom, of } from 'rxjs';

import { DataSource, multiValueMessage, resourceErrorMessage } from './datasource';
import { StitchJsonData, StitchQuery, StitchVariableQuery } from './types';
import { StitchVariableSupport } from './variables';

/** Single-value variables. */
const VARS: Record<string, string> = {
  session: 'abc-123',
  trace: '4bf92f3577b34da6a3ce929d0e0e4736',
  svc: 'ios-app',
};
/** Multi-value variables, as Grafana hands them to a format function: an array (every value for "All"). */
const MULTI_VARS: Record<string, string[]> = {
  versions: ['2.4.1', '2.4.2', '2.5.0', '3.0.0'],
  nets: ['wifi', 'cellular'],
  oneVersion: ['2.4.1'],
  none: [],
};

/** Mimics templateSrv.replace: a format function gets the raw value (array for multi-value) and the variable. */
const mockReplace = jest.fn((value: string, scopedVars?: ScopedVars, format?: unknown) => {
  return value.replace(/\$(\w+)/g, (match, name: string) => {
    const raw: string | string[] | undefined =
      scopedVars?.[name] !== undefined ? String(scopedVars[name]?.value) : (VARS[name] ?? MULTI_VARS[name]);
    if (raw === undefined) {
      return match;
    }
    if (typeof format === 'function') {
      return format(raw, { name });
    }
    return Array.isArray(raw) ? `{${raw.join(',')}}` : raw;
  });
});

const mockFetch = jest.fn();

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    replace: mockReplace,
    getVariables: () => [{ name: 'session' }, { name: 'endpoint' }],
  }),
}));

// DataSourceWithBackend reaches the backend through the runtime's own backendSrv singleton.
setBackendSrv({ fetch: mockFetch } as unknown as BackendSrv);

const settings = {
  id: 1,
  uid: 'stitch',
  type: 'stitch-sessions-datasource',
  name: 'Stitch',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: {},
} as unknown as DataSourceInstanceSettings<StitchJsonData>;

describe('DataSource', () => {
  const ds = new DataSource(settings);

  beforeEach(() => {
    mockReplace.mockClear();
    mockFetch.mockReset();
  });

  it('applyTemplateVariables replaces $session in sessionId', () => {
    const query: StitchQuery = { refId: 'A', queryType: 'sessionTimeline', sessionId: '$session' };
    const out = ds.applyTemplateVariables(query, {});
    expect(out).toEqual({ refId: 'A', queryType: 'sessionTimeline', sessionId: 'abc-123' });
    expect(mockReplace).toHaveBeenCalledWith('$session', {}, expect.any(Function));
    // The input query is not mutated.
    expect(query.sessionId).toBe('$session');
  });

  it('passes scoped vars through', () => {
    const scoped: ScopedVars = { session: { text: 'repeat', value: 'from-repeat' } };
    const out = ds.applyTemplateVariables({ refId: 'A', sessionId: '$session' }, scoped);
    expect(out.sessionId).toBe('from-repeat');
  });

  it('interpolates traceId and every string filter, leaving other fields alone', () => {
    const query: StitchQuery = {
      refId: 'A',
      queryType: 'sessions',
      traceId: '$trace',
      appService: '$svc',
      appVersion: 'v-$svc',
      osVersion: '$session',
      deviceModel: 'iPhone',
      networkType: '$svc',
      endpoint: '/api/$svc',
      errorsOnly: true,
      minDurationMs: 5,
      limit: 10,
    };
    expect(ds.applyTemplateVariables(query, {})).toEqual({
      refId: 'A',
      queryType: 'sessions',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      appService: 'ios-app',
      appVersion: 'v-ios-app',
      osVersion: 'abc-123',
      deviceModel: 'iPhone',
      networkType: 'ios-app',
      endpoint: '/api/ios-app',
      errorsOnly: true,
      minDurationMs: 5,
      limit: 10,
    });
  });

  it('does not add fields the query does not have', () => {
    const out = ds.applyTemplateVariables({ refId: 'A', queryType: 'sessions', limit: 100 }, {});
    expect(Object.keys(out).sort()).toEqual(['limit', 'queryType', 'refId']);
    expect(mockReplace).not.toHaveBeenCalled();
  });

  it('filterQuery drops hidden queries only', () => {
    expect(ds.filterQuery({ refId: 'A', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', hide: false })).toBe(true);
    expect(ds.filterQuery({ refId: 'A' })).toBe(true);
  });

  it('defaults new queries to sessions with limit 100', () => {
    expect(ds.getDefaultQuery(CoreApp.Explore)).toEqual({ queryType: 'sessions', limit: 100 });
  });

  it('getVariableNames lists the dashboard variables as $name', () => {
    expect(ds.getVariableNames()).toEqual(['$session', '$endpoint']);
  });
});

describe('multi-value template variables', () => {
  const ds = new DataSource(settings);

  const range: TimeRange = {
    from: dateTime(1_700_000_000_000),
    to: dateTime(1_700_003_600_000),
    raw: { from: 'now-1h', to: 'now' },
  };

  function request(targets: StitchQuery[], scopedVars: ScopedVars = {}): DataQueryRequest<StitchQuery> {
    return {
      requestId: 'r1',
      interval: '1m',
      intervalMs: 60_000,
      range,
      scopedVars,
      targets,
      timezone: 'utc',
      app: CoreApp.Dashboard,
      startTime: 0,
    };
  }

  /** What the backend answers: one empty result per refId sent. */
  function answerEveryQuery() {
    mockFetch.mockImplementation((opts: { data: { queries: Array<{ refId: string }> } }) =>
      of({
        status: 200,
        ok: true,
        data: { results: Object.fromEntries(opts.data.queries.map((q) => [q.refId, { status: 200, frames: [] }])) },
      })
    );
  }

  function sentQueries(): Array<Record<string, unknown>> {
    expect(mockFetch).toHaveBeenCalledTimes(1);
    return mockFetch.mock.calls[0][0].data.queries;
  }

  beforeEach(() => {
    mockReplace.mockClear();
    mockFetch.mockReset();
  });

  it('applyTemplateVariables joins a multi-value variable with commas and does not throw', () => {
    const out = ds.applyTemplateVariables({ refId: 'A', appVersion: '$versions', networkType: '$nets' }, {});
    expect(out.appVersion).toBe('2.4.1,2.4.2,2.5.0,3.0.0');
    expect(out.networkType).toBe('wifi,cellular');
  });

  it('a multi-value variable with one value selected is that value', async () => {
    answerEveryQuery();
    const response = await lastValueFrom(ds.query(request([{ refId: 'A', appVersion: '$oneVersion' }])));
    expect(sentQueries()).toEqual([expect.objectContaining({ refId: 'A', appVersion: '2.4.1' })]);
    expect(response.errors ?? []).toEqual([]);
  });

  it('a multi-value variable with no value selected is an empty filter', () => {
    expect(ds.applyTemplateVariables({ refId: 'A', appVersion: '$none' }, {}).appVersion).toBe('');
  });

  it('a query whose filter has several values is not sent and gets a clear error', async () => {
    const response = await lastValueFrom(ds.query(request([{ refId: 'A', appVersion: '$versions' }])));
    expect(mockFetch).not.toHaveBeenCalled();
    expect(response.state).toBe(LoadingState.Error);
    expect(response.data).toEqual([]);
    expect(response.errors).toEqual([
      {
        refId: 'A',
        message:
          'appVersion: $versions has 4 values (2.4.1, 2.4.2, 2.5.0, …) but Stitch matches a single value here. ' +
          'Select one value, or turn off "Multi-value" and "Include All option" in the variable\'s settings.',
      },
    ]);
  });

  it('other queries of the request still run; the bad one gets the error', async () => {
    answerEveryQuery();
    const response = await lastValueFrom(
      ds.query(
        request([
          { refId: 'A', queryType: 'sessions', appService: '$svc' },
          { refId: 'B', queryType: 'sessionTimeline', sessionId: '$nets' },
          { refId: 'C', queryType: 'sessions', endpoint: '/api/$svc' },
        ])
      )
    );
    const sent = sentQueries();
    expect(sent.map((q) => q.refId)).toEqual(['A', 'C']);
    expect(sent[0].appService).toBe('ios-app');
    expect(sent[1].endpoint).toBe('/api/ios-app');
    expect(response.errors).toEqual([
      { refId: 'B', message: expect.stringContaining('sessionId: $nets has 2 values (wifi, cellular)') },
    ]);
  });

  it('scoped (repeated panel) values are single values', async () => {
    answerEveryQuery();
    await lastValueFrom(
      ds.query(request([{ refId: 'A', appVersion: '$versions' }], { versions: { text: '2.4.2', value: '2.4.2' } }))
    );
    expect(sentQueries()[0].appVersion).toBe('2.4.2');
  });

  it('queries for expressions are passed through unchecked', async () => {
    answerEveryQuery();
    await lastValueFrom(
      ds.query(request([{ refId: 'E', datasource: { type: '__expr__', uid: '__expr__' }, appVersion: '$versions' }]))
    );
    expect(sentQueries().map((q) => q.refId)).toEqual(['E']);
  });

  it('multiValueMessage lists up to three values', () => {
    expect(multiValueMessage({ field: 'endpoint', variable: '$ep', values: ['/a', '/b'] })).toMatch(
      /^endpoint: \$ep has 2 values \(\/a, \/b\) but/
    );
  });
});

describe('values route and variable support', () => {
  const ds = new DataSource(settings);
  const range: TimeRange = {
    from: dateTime(1_700_000_000_000),
    to: dateTime(1_700_003_600_000),
    raw: { from: 'now-1h', to: 'now' },
  };
  let getResource: jest.SpyInstance;

  beforeEach(() => {
    mockFetch.mockReset();
    getResource = jest.spyOn(ds, 'getResource');
  });
  afterEach(() => getResource.mockRestore());

  it('getAttributeValues calls GET values with attribute, from and to in ms', async () => {
    mockFetch.mockReturnValue(
      of({ status: 200, ok: true, data: { attribute: 'appVersion', values: ['2.4.1', '2.4.2'], truncated: true } })
    );
    await expect(ds.getAttributeValues('appVersion', range)).resolves.toEqual({
      attribute: 'appVersion',
      values: ['2.4.1', '2.4.2'],
      truncated: true,
    });
    expect(mockFetch).toHaveBeenCalledWith(
      expect.objectContaining({
        method: 'GET',
        url: '/api/datasources/uid/stitch/resources/values',
        params: { attribute: 'appVersion', from: 1_700_000_000_000, to: 1_700_003_600_000 },
        showErrorAlert: false,
      })
    );
  });

  it('getAttributeValues without a range lets the backend pick (no from/to)', async () => {
    getResource.mockResolvedValue({ attribute: 'endpoint', values: ['/api/cart'], truncated: false });
    await ds.getAttributeValues('endpoint');
    expect(getResource).toHaveBeenCalledWith('values', { attribute: 'endpoint' }, { showErrorAlert: false });
  });

  it('getAttributeValues tolerates a malformed answer', async () => {
    getResource.mockResolvedValue({ values: ['ok', 3, null] });
    await expect(ds.getAttributeValues('osVersion', range)).resolves.toEqual({
      attribute: 'osVersion',
      values: ['ok'],
      truncated: false,
    });
    getResource.mockResolvedValue(undefined);
    await expect(ds.getAttributeValues('osVersion', range)).resolves.toEqual({
      attribute: 'osVersion',
      values: [],
      truncated: false,
    });
  });

  it('getAttributeValues rejects with the backend error message', async () => {
    getResource.mockRejectedValue({ status: 400, data: { error: 'attribute: choose appService, …' } });
    await expect(ds.getAttributeValues('appService', range)).rejects.toThrow('attribute: choose appService, …');
  });

  it('the data source has custom variable support with an editor', () => {
    expect(ds.variables).toBeInstanceOf(StitchVariableSupport);
    expect((ds.variables as StitchVariableSupport).getType()).toBe('custom');
    expect((ds.variables as StitchVariableSupport).editor).toBeDefined();
  });

  function variableRequest(target: StitchVariableQuery | string): DataQueryRequest<StitchVariableQuery> {
    return {
      requestId: 'v1',
      interval: '1m',
      intervalMs: 60_000,
      range,
      scopedVars: {},
      targets: [target as StitchVariableQuery],
      timezone: 'utc',
      app: CoreApp.Dashboard,
      startTime: 0,
    };
  }

  it('variable query returns MetricFindValues for the attribute in the dashboard range', async () => {
    getResource.mockResolvedValue({
      attribute: 'sessionId',
      values: ['0af7651916cd43dd8448eb211c80319c', '4bf92f3577b34da6a3ce929d0e0e4736'],
      truncated: false,
    });
    const variables = ds.variables as StitchVariableSupport;
    const response = await lastValueFrom(variables.query(variableRequest({ refId: 'V', attribute: 'sessionId' })));
    expect(getResource).toHaveBeenCalledWith(
      'values',
      { attribute: 'sessionId', from: 1_700_000_000_000, to: 1_700_003_600_000 },
      { showErrorAlert: false }
    );
    expect(response.data).toEqual([
      { text: '0af7651916cd43dd8448eb211c80319c', value: '0af7651916cd43dd8448eb211c80319c' },
      { text: '4bf92f3577b34da6a3ce929d0e0e4736', value: '4bf92f3577b34da6a3ce929d0e0e4736' },
    ]);
  });

  it('variable query accepts a bare attribute name (legacy string query)', async () => {
    getResource.mockResolvedValue({ attribute: 'endpoint', values: ['/api/checkout'], truncated: false });
    const response = await lastValueFrom((ds.variables as StitchVariableSupport).query(variableRequest(' endpoint ')));
    expect(getResource).toHaveBeenCalledWith('values', expect.objectContaining({ attribute: 'endpoint' }), {
      showErrorAlert: false,
    });
    expect(response.data).toEqual([{ text: '/api/checkout', value: '/api/checkout' }]);
  });

  it('variable query without an attribute lists nothing and calls nothing', async () => {
    const response = await lastValueFrom((ds.variables as StitchVariableSupport).query(variableRequest('')));
    expect(response.data).toEqual([]);
    expect(getResource).not.toHaveBeenCalled();
  });

  it('variable query with an unknown attribute fails with a clear message', async () => {
    await expect(
      lastValueFrom(
        (ds.variables as StitchVariableSupport).query(
          variableRequest({ refId: 'V', attribute: 'colour' } as unknown as StitchVariableQuery)
        )
      )
    ).rejects.toThrow('Unknown attribute "colour": choose one of appService, appVersion');
    expect(getResource).not.toHaveBeenCalled();
  });

  it('variable query fails with the route error', async () => {
    getResource.mockRejectedValue({ status: 502, data: { error: 'traces store: connection refused' } });
    await expect(
      lastValueFrom(
        (ds.variables as StitchVariableSupport).query(variableRequest({ refId: 'V', attribute: 'appService' }))
      )
    ).rejects.toThrow('traces store: connection refused');
  });

  it('metricFindQuery uses options.range', async () => {
    getResource.mockResolvedValue({ attribute: 'networkType', values: ['wifi'], truncated: false });
    await expect(ds.metricFindQuery({ refId: 'V', attribute: 'networkType' }, { range })).resolves.toEqual([
      { text: 'wifi', value: 'wifi' },
    ]);
    expect(getResource).toHaveBeenCalledWith(
      'values',
      { attribute: 'networkType', from: 1_700_000_000_000, to: 1_700_003_600_000 },
      { showErrorAlert: false }
    );
  });
});

describe('resourceErrorMessage', () => {
  it.each([
    [{ status: 400, data: { error: 'bad attribute' } }, 'bad attribute'],
    [{ status: 500, data: { message: 'Plugin unavailable' } }, 'Plugin unavailable'],
    [new Error('network down'), 'network down'],
    [{ status: 502, statusText: 'Bad Gateway', data: {} }, 'HTTP 502 Bad Gateway'],
    ['plain', 'plain'],
    [undefined, 'unknown error'],
  ])('%p → %p', (err, expected) => {
    expect(resourceErrorMessage(err)).toBe(expected);
  });
});
