import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';

import { DataSource } from './datasource';
import { StitchJsonData, StitchQuery } from './types';

const mockReplace = jest.fn((value: string, scopedVars?: ScopedVars) => {
  const vars: Record<string, string> = {
    session: 'abc-123',
    trace: '4bf92f3577b34da6a3ce929d0e0e4736',
    svc: 'ios-app',
  };
  for (const [name, v] of Object.entries(scopedVars ?? {})) {
    vars[name] = String(v?.value);
  }
  return value.replace(/\$(\w+)/g, (match, name: string) => vars[name] ?? match);
});

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({ replace: mockReplace }),
}));

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

  beforeEach(() => mockReplace.mockClear());

  it('applyTemplateVariables replaces $session in sessionId', () => {
    const query: StitchQuery = { refId: 'A', queryType: 'sessionTimeline', sessionId: '$session' };
    const out = ds.applyTemplateVariables(query, {});
    expect(out).toEqual({ refId: 'A', queryType: 'sessionTimeline', sessionId: 'abc-123' });
    expect(mockReplace).toHaveBeenCalledWith('$session', {});
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
});
