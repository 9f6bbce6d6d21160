/*
 * A page that mounts one of the plugin's editors the way Grafana does: inside Grafana's theme (ThemeContext and
 * @grafana/ui's GlobalStyles), with the props Grafana passes, and a DataSource whose resource calls are answered
 * with fixed data. The URL chooses what is shown:
 *
 *   ?editor=config|query|variable   which editor (config by default)
 *   &theme=dark|light               Grafana theme (dark by default)
 *   &state=<JSON>                   the initial options (config), query (query) or variable query (variable)
 *   &resource=ok|error              whether the `values` route answers or fails
 *
 * The latest options / query the editor emitted, and what it asked of the backend, are kept on window.stitch so
 * a browser test can read them.
 */
import React, { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
  DataSourceInstanceSettings,
  DataSourceSettings,
  ThemeContext,
  TimeRange,
  createTheme,
  dateTime,
} from '@grafana/data';
import { TemplateSrv, setTemplateSrv } from '@grafana/runtime';
import { GlobalStyles, useTheme2 } from '@grafana/ui';

import { ConfigEditor } from '../../src/components/ConfigEditor';
import { QueryEditor } from '../../src/components/QueryEditor';
import { VariableQueryEditor } from '../../src/components/VariableQueryEditor';
import { DataSource } from '../../src/datasource';
import {
  DEFAULT_QUERY,
  StitchJsonData,
  StitchQuery,
  StitchSecureJsonData,
  StitchVariableQuery,
  ValueAttribute,
  ValuesResponse,
  isValueAttribute,
} from '../../src/types';

type Options = DataSourceSettings<StitchJsonData, StitchSecureJsonData>;

export interface ResourceCall {
  path: string;
  params: Record<string, unknown>;
}

/** What the page exposes to the test. */
export interface HarnessState {
  editor: string;
  options?: Options;
  query?: StitchQuery;
  variableQuery?: StitchVariableQuery | string;
  /** How many times the editor called onOptionsChange / onChange. */
  changes: number;
  /** How many times the editor called onRunQuery. */
  runs: number;
  resourceCalls: ResourceCall[];
  ready: boolean;
}

declare global {
  interface Window {
    stitch: HarnessState;
  }
}

const params = new URLSearchParams(window.location.search);
const editor = params.get('editor') ?? 'config';
const mode = params.get('theme') === 'light' ? 'light' : 'dark';
const resourceFails = params.get('resource') === 'error';
const initialState: unknown = params.has('state') ? JSON.parse(params.get('state') ?? 'null') : undefined;

const state: HarnessState = { editor, changes: 0, runs: 0, resourceCalls: [], ready: false };
window.stitch = state;

/** The panel's time range: fixed, so the `values` calls are predictable. */
const FROM = 1_700_000_000_000;
const TO = 1_700_003_600_000;
const range: TimeRange = {
  from: dateTime(FROM),
  to: dateTime(TO),
  raw: { from: dateTime(FROM), to: dateTime(TO) },
};

/** The `values` route's answers, per attribute. */
const VALUES: Record<ValueAttribute, string[]> = {
  appService: ['android-app', 'ios-app'],
  appVersion: ['2.4.0', '2.4.1', '2.5.0'],
  osVersion: ['14', '17.5'],
  deviceModel: ['Pixel 8', 'iPhone15,2'],
  networkType: ['cellular', 'wifi'],
  endpoint: ['/api/cart', '/api/checkout', '/api/login'],
  sessionId: ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331b7ad6b7169203331'],
};

/** Dashboard variables the editors offer in their selects. */
const templateSrv = {
  getVariables: () => [{ name: 'session' }, { name: 'endpoint' }],
  replace: (target?: string) => target ?? '',
  containsTemplate: (target?: string) => Boolean(target?.includes('$')),
  updateTimeRange: () => {},
} as unknown as TemplateSrv;
setTemplateSrv(templateSrv);

const instanceSettings = {
  id: 1,
  uid: 'stitch',
  type: 'stitch-sessions-datasource',
  name: 'Stitch',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: { id: 'stitch-sessions-datasource', name: 'Stitch', info: { logos: {} } },
} as unknown as DataSourceInstanceSettings<StitchJsonData>;

const datasource = new DataSource(instanceSettings);

// The backend's resource routes: answered here, never sent anywhere.
datasource.getResource = async <T,>(path: string, query?: Record<string, unknown>): Promise<T> => {
  const call: ResourceCall = { path, params: { ...query } };
  state.resourceCalls.push(call);
  await new Promise((resolve) => setTimeout(resolve, 50));
  if (resourceFails) {
    throw { status: 500, data: { error: 'logs store unreachable: connection refused' } };
  }
  const attribute = query?.attribute;
  if (path !== 'values' || !isValueAttribute(attribute)) {
    throw { status: 404, data: { error: `no route ${path}` } };
  }
  const response: ValuesResponse = { attribute, values: VALUES[attribute], truncated: attribute === 'endpoint' };
  return response as T;
};
datasource.postResource = async <T,>(path: string): Promise<T> => {
  state.resourceCalls.push({ path, params: {} });
  throw { status: 404, data: { error: `no route ${path}` } };
};

function defaultOptions(overrides: Partial<Options>): Options {
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

// What each editor starts with; the harness records it before the first render.
const initialOptions = defaultOptions((initialState ?? {}) as Partial<Options>);
const initialQuery = (initialState as StitchQuery | undefined) ?? { refId: 'A', ...DEFAULT_QUERY };
// A new variable's query is an empty string until an attribute is picked.
const initialVariableQuery = (initialState as StitchVariableQuery | string | undefined) ?? '';
if (editor === 'query') {
  state.query = initialQuery;
} else if (editor === 'variable') {
  state.variableQuery = initialVariableQuery;
} else {
  state.options = initialOptions;
}

function ConfigPage() {
  const [options, setOptions] = useState<Options>(initialOptions);
  return (
    <ConfigEditor
      options={options}
      onOptionsChange={(next) => {
        state.changes++;
        state.options = next;
        setOptions(next);
      }}
    />
  );
}

function QueryPage() {
  const [query, setQuery] = useState<StitchQuery>(initialQuery);
  return (
    <QueryEditor
      datasource={datasource}
      query={query}
      range={range}
      onChange={(next) => {
        state.changes++;
        state.query = next;
        setQuery(next);
      }}
      onRunQuery={() => {
        state.runs++;
      }}
    />
  );
}

function VariablePage() {
  const [query, setQuery] = useState<StitchVariableQuery | string>(initialVariableQuery);
  return (
    <VariableQueryEditor
      datasource={datasource}
      query={query as StitchVariableQuery}
      onChange={(next) => {
        state.changes++;
        state.variableQuery = next;
        setQuery(next);
      }}
      onRunQuery={() => {
        state.runs++;
      }}
    />
  );
}

/** The surface an editor sits on in Grafana: the data source settings page, or a query row. */
function Frame({ children }: { children: React.ReactNode }) {
  const theme = useTheme2();
  const settingsPage = editor === 'config';
  return (
    <div
      id="editor"
      style={{
        boxSizing: 'border-box',
        width: settingsPage ? 760 : 1180,
        margin: theme.spacing(2),
        padding: theme.spacing(2),
        background: theme.colors.background.primary,
        border: `1px solid ${theme.colors.border.weak}`,
        borderRadius: theme.shape.radius.default,
      }}
    >
      {children}
    </div>
  );
}

function App() {
  useEffect(() => {
    state.ready = true;
  }, []);
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <Frame>{editor === 'query' ? <QueryPage /> : editor === 'variable' ? <VariablePage /> : <ConfigPage />}</Frame>
    </ThemeContext.Provider>
  );
}

const theme = createTheme({ colors: { mode } });
document.body.style.background = theme.colors.background.canvas;

const root = document.getElementById('root');
if (!root) {
  throw new Error('harness page has no #root');
}
createRoot(root).render(<App />);
