import React, { useState } from 'react';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { DataSourceInstanceSettings, TimeRange, dateTime } from '@grafana/data';

import { QueryEditor, Props, breakdownGroupBy, clampLimit, metricsGroupBy, typeDefaults } from './QueryEditor';
import { DataSource } from '../datasource';
import { DEFAULT_QUERY, StitchJsonData, StitchQuery, ValuesResponse } from '../types';

let mockVariables: Array<{ name: string }> = [];

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({
    replace: (s: string) => s,
    getVariables: () => mockVariables,
  }),
}));

const datasource = new DataSource({
  id: 1,
  uid: 'stitch',
  type: 'stitch-sessions-datasource',
  name: 'Stitch',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: {},
} as unknown as DataSourceInstanceSettings<StitchJsonData>);

/** The backend's resource routes, replaced per test. */
const getResource = jest.spyOn(datasource, 'getResource');

const FROM = 1_700_000_000_000;
const TO = 1_700_003_600_000;

function timeRange(from: number, to: number): TimeRange {
  return { from: dateTime(from), to: dateTime(to), raw: { from: dateTime(from), to: dateTime(to) } };
}

function Harness({
  initial,
  onChange,
  onRunQuery,
  range,
}: {
  initial: StitchQuery;
  onChange: jest.Mock;
  onRunQuery: jest.Mock;
  range?: TimeRange;
}) {
  const [query, setQuery] = useState(initial);
  const props: Props = {
    datasource,
    query,
    range,
    onChange: (q) => {
      onChange(q);
      setQuery(q);
    },
    onRunQuery,
  };
  return <QueryEditor {...props} />;
}

function setup(initial: StitchQuery = { refId: 'A', ...DEFAULT_QUERY }, range = timeRange(FROM, TO)) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const { rerender } = render(<Harness initial={initial} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
  return {
    onChange,
    onRunQuery,
    last: (): StitchQuery => onChange.mock.calls[onChange.mock.calls.length - 1][0],
    setRange: (r: TimeRange) =>
      rerender(<Harness initial={initial} onChange={onChange} onRunQuery={onRunQuery} range={r} />),
  };
}

/** Answers `GET values` with the given values per attribute. */
function serveValues(values: Record<string, string[]>, truncated = false) {
  getResource.mockImplementation(async (path: string, params?: Record<string, unknown>) => {
    expect(path).toBe('values');
    const attribute = String(params?.attribute);
    const answer: ValuesResponse = {
      attribute: attribute as ValuesResponse['attribute'],
      values: values[attribute] ?? [],
      truncated,
    };
    return answer;
  });
}

function openSelect(label: string) {
  fireEvent.keyDown(screen.getByLabelText(label), { key: 'ArrowDown' });
}

/** Types into a filter select and presses Enter: creates a custom value. */
function typeCustomValue(label: string, text: string) {
  const input = screen.getByLabelText(label);
  fireEvent.change(input, { target: { value: text } });
  fireEvent.keyDown(input, { key: 'Enter' });
}

function chooseQueryType(optionText: string) {
  fireEvent.keyDown(screen.getByLabelText('Query type'), { key: 'ArrowDown' });
  fireEvent.click(within(screen.getByRole('listbox')).getByText(optionText));
}

const SESSION_FILTER_LABELS = ['App service', 'App version', 'OS version', 'Device model', 'Network type', 'Endpoint'];

beforeEach(() => {
  getResource.mockReset();
  getResource.mockResolvedValue({ values: [], truncated: false });
  mockVariables = [];
});

describe('QueryEditor', () => {
  it('defaults to a sessions query with limit 100', () => {
    setup();
    expect(screen.getByText('Sessions')).toBeInTheDocument();
    for (const label of SESSION_FILTER_LABELS) {
      expect(screen.getByLabelText(label)).toBeInTheDocument();
    }
    expect(screen.getByLabelText('Errors only')).not.toBeChecked();
    expect(screen.getByLabelText('Limit')).toHaveValue(100);
    expect(screen.queryByLabelText('Session ID')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Trace ID')).not.toBeInTheDocument();
  });

  it('treats a query without queryType as sessions', () => {
    setup({ refId: 'A' });
    expect(screen.getByLabelText('App service')).toBeInTheDocument();
  });

  it('switching type shows that type’s fields and runs the query', () => {
    const { last, onRunQuery } = setup();

    chooseQueryType('Session timeline');
    expect(last().queryType).toBe('sessionTimeline');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(screen.getByLabelText('Session ID')).toBeInTheDocument();
    expect(screen.queryByLabelText('App service')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Trace ID')).not.toBeInTheDocument();

    chooseQueryType('Trace to session');
    expect(last().queryType).toBe('traceToSession');
    expect(screen.getByLabelText('Trace ID')).toBeInTheDocument();
    expect(screen.queryByLabelText('Session ID')).not.toBeInTheDocument();

    chooseQueryType('Sessions');
    expect(last().queryType).toBe('sessions');
    expect(screen.getByLabelText('Endpoint')).toBeInTheDocument();
  });

  it('edits session id and trace id', () => {
    const { last, onRunQuery } = setup({ refId: 'B', queryType: 'sessionTimeline' });
    const sessionId = screen.getByLabelText('Session ID');
    fireEvent.change(sessionId, { target: { value: '$session' } });
    expect(last()).toEqual({ refId: 'B', queryType: 'sessionTimeline', sessionId: '$session' });
    expect(onRunQuery).not.toHaveBeenCalled();
    fireEvent.blur(sessionId);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('edits every filter (typed values), errorsOnly and minDurationMs', async () => {
    const { last, onRunQuery } = setup();
    SESSION_FILTER_LABELS.forEach((label, i) => typeCustomValue(label, `v${i}`));
    // Each chosen filter value runs the query.
    expect(onRunQuery).toHaveBeenCalledTimes(SESSION_FILTER_LABELS.length);
    fireEvent.click(screen.getByLabelText('Errors only'));
    expect(onRunQuery).toHaveBeenCalledTimes(SESSION_FILTER_LABELS.length + 1);
    fireEvent.change(screen.getByLabelText('Min duration (ms)'), { target: { value: '250' } });

    expect(last()).toEqual({
      refId: 'A',
      queryType: 'sessions',
      limit: 100,
      appService: 'v0',
      appVersion: 'v1',
      osVersion: 'v2',
      deviceModel: 'v3',
      networkType: 'v4',
      endpoint: 'v5',
      errorsOnly: true,
      minDurationMs: 250,
    });
    // Typing opened each select, which loaded its values: let those loads settle.
    await act(async () => {});
  });

  it('orders the sessions list: latest first by default, longest or most errors on request', () => {
    const { last, onRunQuery } = setup();
    expect(screen.getByText('Latest first')).toBeInTheDocument();
    fireEvent.keyDown(screen.getByLabelText('Order'), { key: 'ArrowDown' });
    fireEvent.click(within(screen.getByRole('listbox')).getByText('Most errors first'));
    expect(last()).toMatchObject({ queryType: 'sessions', orderBy: 'errors' });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('flags a negative min duration', () => {
    setup();
    expect(screen.queryByText('Use 0 or more milliseconds')).not.toBeInTheDocument();
    fireEvent.change(screen.getByLabelText('Min duration (ms)'), { target: { value: '-5' } });
    expect(screen.getByText('Use 0 or more milliseconds')).toBeInTheDocument();
  });

  it.each([
    ['5000', 1000],
    ['1001', 1000],
    ['0', 1],
    ['-3', 1],
    ['250', 250],
    ['12.7', 12],
    ['', 100],
  ])('limit %p is committed as %p on blur and runs the query', (typed, expected) => {
    const { last, onRunQuery, onChange } = setup();
    const limit = screen.getByLabelText('Limit');
    fireEvent.change(limit, { target: { value: typed } });
    // Nothing is committed while typing.
    expect(onChange).not.toHaveBeenCalled();
    fireEvent.blur(limit);
    expect(last().limit).toBe(expected);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(screen.getByLabelText('Limit')).toHaveValue(expected);
  });

  it('shows a validation message for an out-of-range limit until it is clamped', () => {
    setup();
    const limit = screen.getByLabelText('Limit');
    fireEvent.change(limit, { target: { value: '5000' } });
    expect(screen.getByText('Use a whole number from 1 to 1000')).toBeInTheDocument();
    fireEvent.blur(limit);
    expect(screen.queryByText('Use a whole number from 1 to 1000')).not.toBeInTheDocument();
  });
});

describe('clampLimit', () => {
  it('clamps to 1..1000 and defaults to 100', () => {
    expect(clampLimit('1000')).toBe(1000);
    expect(clampLimit('100000')).toBe(1000);
    expect(clampLimit('1')).toBe(1);
    expect(clampLimit('0')).toBe(1);
    expect(clampLimit('abc')).toBe(100);
    expect(clampLimit('  ')).toBe(100);
    expect(clampLimit('Infinity')).toBe(100);
  });
});

describe('QueryEditor filter selects', () => {
  it('load nothing until a select opens', () => {
    setup();
    expect(getResource).not.toHaveBeenCalled();
  });

  it('load the options from the values route for the panel time range when opened', async () => {
    serveValues({ appVersion: ['2.4.1', '2.4.2'] });
    const { last, onRunQuery } = setup();

    openSelect('App version');
    expect(getResource).toHaveBeenCalledTimes(1);
    expect(getResource).toHaveBeenCalledWith(
      'values',
      { attribute: 'appVersion', from: FROM, to: TO },
      { showErrorAlert: false }
    );
    const listbox = await screen.findByRole('listbox');
    expect(await within(listbox).findByText('2.4.2')).toBeInTheDocument();
    fireEvent.click(within(listbox).getByText('2.4.2'));

    expect(last().appVersion).toBe('2.4.2');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(screen.getByText('2.4.2')).toBeInTheDocument();
  });

  it('each filter asks for its own attribute', async () => {
    serveValues({});
    setup();
    const attributes = ['appService', 'appVersion', 'osVersion', 'deviceModel', 'networkType', 'endpoint'];
    for (const label of SESSION_FILTER_LABELS) {
      openSelect(label);
      fireEvent.keyDown(screen.getByLabelText(label), { key: 'Escape' });
    }
    await waitFor(() => expect(getResource).toHaveBeenCalledTimes(6));
    expect(getResource.mock.calls.map((c) => (c[1] as { attribute: string }).attribute)).toEqual(attributes);
  });

  it('show the loading state while the route answers', async () => {
    let answer: (v: ValuesResponse) => void = () => {};
    getResource.mockImplementation(() => new Promise((resolve) => (answer = resolve)));
    setup();

    openSelect('Endpoint');
    expect(await screen.findByText('Loading values…')).toBeInTheDocument();

    await act(async () => answer({ attribute: 'endpoint', values: ['/api/checkout'], truncated: false }));
    expect(screen.queryByText('Loading values…')).not.toBeInTheDocument();
    expect(within(screen.getByRole('listbox')).getByText('/api/checkout')).toBeInTheDocument();
  });

  it('load once per time range and again when the range changes', async () => {
    serveValues({ deviceModel: ['iPhone15,2'] });
    const { setRange } = setup();

    const listed = async () => within(await screen.findByRole('listbox')).findByText('iPhone15,2');

    openSelect('Device model');
    await listed();
    fireEvent.keyDown(screen.getByLabelText('Device model'), { key: 'Escape' });
    openSelect('Device model');
    await listed();
    expect(getResource).toHaveBeenCalledTimes(1);
    fireEvent.keyDown(screen.getByLabelText('Device model'), { key: 'Escape' });

    setRange(timeRange(FROM + 60_000, TO + 60_000));
    openSelect('Device model');
    await listed();
    expect(getResource).toHaveBeenCalledTimes(2);
    expect(getResource).toHaveBeenLastCalledWith(
      'values',
      { attribute: 'deviceModel', from: FROM + 60_000, to: TO + 60_000 },
      { showErrorAlert: false }
    );
  });

  it('keep a custom value, such as a template variable, that is not among the options', async () => {
    serveValues({ appService: ['ios-app'] });
    const { last, onRunQuery } = setup();

    typeCustomValue('App service', '$service');
    expect(last().appService).toBe('$service');
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    // The value stays on screen although the route never listed it.
    await waitFor(() => expect(getResource).toHaveBeenCalled());
    expect(screen.getByText('$service')).toBeInTheDocument();
  });

  it('show a stored value that is not among the options without loading anything', () => {
    setup({ refId: 'A', queryType: 'sessions', networkType: '$net', endpoint: '/api/legacy' });
    expect(screen.getByText('$net')).toBeInTheDocument();
    expect(screen.getByText('/api/legacy')).toBeInTheDocument();
    expect(getResource).not.toHaveBeenCalled();
  });

  it('offer the dashboard variables as options', async () => {
    mockVariables = [{ name: 'version' }];
    serveValues({ appVersion: ['2.4.1'] });
    const { last } = setup();

    openSelect('App version');
    const listbox = await screen.findByRole('listbox');
    await within(listbox).findByText('2.4.1');
    fireEvent.click(within(listbox).getByText('$version'));
    expect(last().appVersion).toBe('$version');
  });

  it('can be cleared, removing the filter', () => {
    const { last, onRunQuery } = setup({ refId: 'A', queryType: 'sessions', osVersion: '17.5' });
    // (The clear icon's handlers are lost to the test's react-inlinesvg mock; Backspace clears the same way.)
    fireEvent.keyDown(screen.getByLabelText('OS version'), { key: 'Backspace' });
    expect(last().osVersion).toBeUndefined();
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('show a route error inline, keep custom values working and retry on the next open', async () => {
    getResource.mockRejectedValueOnce({
      status: 502,
      data: { error: 'traces store jaeger: connection refused' },
    });
    const { last } = setup();

    openSelect('Network type');
    expect(
      await screen.findByText('Could not load network type values: traces store jaeger: connection refused')
    ).toBeInTheDocument();

    typeCustomValue('Network type', 'wifi');
    expect(last().networkType).toBe('wifi');

    // Opening again retries; the error goes away once the route answers.
    serveValues({ networkType: ['cellular', 'wifi'] });
    fireEvent.keyDown(screen.getByLabelText('Network type'), { key: 'Escape' });
    openSelect('Network type');
    await screen.findByText('cellular');
    expect(screen.queryByText(/Could not load network type values/)).not.toBeInTheDocument();
    expect(getResource).toHaveBeenCalledTimes(2);
  });

  it('say when the route returned only part of the values', async () => {
    serveValues({ endpoint: ['/a', '/b'] }, true);
    setup();
    openSelect('Endpoint');
    expect(await screen.findByText('Only the first 2 values are listed: type to use another')).toBeInTheDocument();
  });
});

describe('QueryEditor ID validation', () => {
  const VALID_SESSION = '0af7651916cd43dd8448eb211c80319c';

  it.each([
    ['', undefined],
    [VALID_SESSION, undefined],
    [`  ${VALID_SESSION} `, undefined],
    ['$session', undefined],
    ['${session}', undefined],
    ['[[session]]', undefined],
    ['0AF7651916CD43DD8448EB211C80319C', 'Session IDs are lowercase: use 0-9 and a-f only'],
    ['abc123', 'A session ID is 32 lowercase hex characters; this has 6. Or use a variable such as $session'],
    ['0'.repeat(32), 'The all-zero session ID is not valid'],
    ['session-42', 'A session ID is 32 lowercase hex characters (0-9, a-f), or a variable such as $session'],
  ])('session ID %p → %p', (typed, message) => {
    setup({ refId: 'A', queryType: 'sessionTimeline' });
    fireEvent.change(screen.getByLabelText('Session ID'), { target: { value: typed } });
    if (message) {
      expect(screen.getByRole('alert')).toHaveTextContent(message);
    } else {
      expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    }
  });

  it('shows the session ID message for a stored query too', () => {
    setup({ refId: 'A', queryType: 'sessionTimeline', sessionId: 'nope' });
    expect(
      screen.getByText('A session ID is 32 lowercase hex characters (0-9, a-f), or a variable such as $session')
    ).toBeInTheDocument();
  });

  it.each([
    ['', undefined],
    ['4bf92f3577b34da6a3ce929d0e0e4736', undefined],
    ['4BF92F3577B34DA6A3CE929D0E0E4736', undefined],
    ['a3ce929d0e0e4736', undefined],
    ['$trace', undefined],
    ['0'.repeat(16), 'The all-zero trace ID is not valid'],
    ['4bf92f3577b34da6', undefined],
    ['4bf92f35', 'A trace ID is 32 or 16 hex characters; this has 8. Or use a variable such as $trace'],
    ['trace:4bf92f', 'A trace ID is 32 or 16 hex characters (0-9, a-f), or a variable such as $trace'],
  ])('trace ID %p → %p', (typed, message) => {
    setup({ refId: 'A', queryType: 'traceToSession' });
    fireEvent.change(screen.getByLabelText('Trace ID'), { target: { value: typed } });
    if (message) {
      expect(screen.getByRole('alert')).toHaveTextContent(message);
    } else {
      expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    }
  });

  describe('analytics query types', () => {
    it('latencyBreakdown: groupBy multi-select (endpoint by default) and limit', () => {
      const { last, onRunQuery } = setup();
      chooseQueryType('Latency breakdown');
      expect(last()).toMatchObject({ queryType: 'latencyBreakdown', groupBy: ['endpoint'] });
      expect(onRunQuery).toHaveBeenCalledTimes(1);
      expect(screen.getByText('Endpoint')).toBeInTheDocument();
      expect(screen.queryByLabelText('App service')).not.toBeInTheDocument();

      fireEvent.keyDown(screen.getByLabelText('Group by'), { key: 'ArrowDown' });
      fireEvent.click(within(screen.getByRole('listbox')).getByText('Network type'));
      expect(last().groupBy).toEqual(['endpoint', 'networkType']);
      expect(onRunQuery).toHaveBeenCalledTimes(2);

      const limit = screen.getByLabelText('Limit');
      fireEvent.change(limit, { target: { value: '20' } });
      fireEvent.blur(limit);
      expect(last()).toMatchObject({ queryType: 'latencyBreakdown', groupBy: ['endpoint', 'networkType'], limit: 20 });
    });

    it('errorCascades: only a limit', () => {
      const { last } = setup({ refId: 'A', queryType: 'errorCascades' });
      expect(screen.queryByLabelText('Group by')).not.toBeInTheDocument();
      expect(screen.queryByLabelText('Session ID')).not.toBeInTheDocument();
      const limit = screen.getByLabelText('Limit');
      fireEvent.change(limit, { target: { value: '5000' } });
      fireEvent.blur(limit);
      expect(last()).toEqual({ refId: 'A', queryType: 'errorCascades', limit: 1000 });
    });

    it('exemplarSessions: endpoint, errors only and min duration; no limit or other filters', () => {
      const { last, onRunQuery } = setup();
      chooseQueryType('Exemplar sessions');
      expect(last().queryType).toBe('exemplarSessions');
      expect(onRunQuery).toHaveBeenCalledTimes(1);
      for (const label of ['Limit', 'Group by', 'Metric', 'Session ID', 'Trace ID', 'App service']) {
        expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
      }
      expect(screen.getByLabelText('Endpoint')).toBeInTheDocument();
      fireEvent.change(screen.getByLabelText('Min duration (ms)'), { target: { value: '3000' } });
      fireEvent.click(screen.getByLabelText('Errors only'));
      expect(last()).toMatchObject({ queryType: 'exemplarSessions', minDurationMs: 3000, errorsOnly: true });
    });

    it('propagationHealth: no options', () => {
      const { last, onRunQuery } = setup();
      chooseQueryType('Propagation health');
      expect(last().queryType).toBe('propagationHealth');
      expect(onRunQuery).toHaveBeenCalledTimes(1);
      for (const label of ['Limit', 'Group by', 'Metric', 'Session ID', 'Trace ID', 'App service']) {
        expect(screen.queryByLabelText(label)).not.toBeInTheDocument();
      }
    });

    it('sessionMetrics: metric select (error-session ratio by default) and an optional single groupBy', () => {
      const { last, onRunQuery } = setup();
      chooseQueryType('Session metrics');
      expect(last()).toMatchObject({ queryType: 'sessionMetrics', metric: 'errorSessionRatio' });
      expect(last().groupBy).toBeUndefined();
      expect(screen.getByText('Error-session ratio')).toBeInTheDocument();
      expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();

      fireEvent.keyDown(screen.getByLabelText('Metric'), { key: 'ArrowDown' });
      fireEvent.click(within(screen.getByRole('listbox')).getByText('Server latency p95'));
      expect(last().metric).toBe('serverLatencyP95');

      fireEvent.keyDown(screen.getByLabelText('Group by'), { key: 'ArrowDown' });
      fireEvent.click(within(screen.getByRole('listbox')).getByText('Endpoint'));
      expect(last()).toMatchObject({ queryType: 'sessionMetrics', metric: 'serverLatencyP95', groupBy: 'endpoint' });
      expect(onRunQuery).toHaveBeenCalledTimes(3);
    });

    it('keeps a stored sessionMetrics query as it is', () => {
      setup({ refId: 'A', queryType: 'sessionMetrics', metric: 'propagationCoverage', groupBy: 'networkType' });
      expect(screen.getByText('Propagation coverage')).toBeInTheDocument();
      expect(screen.getByText('Network type')).toBeInTheDocument();
    });

    it('converts groupBy between the list and single forms when the type changes', () => {
      expect(breakdownGroupBy(undefined)).toEqual(['endpoint']);
      expect(breakdownGroupBy([])).toEqual(['endpoint']);
      expect(breakdownGroupBy('osVersion')).toEqual(['osVersion']);
      expect(metricsGroupBy(['appVersion', 'endpoint'])).toBe('appVersion');
      expect(metricsGroupBy(undefined)).toBeUndefined();
      expect(typeDefaults('sessionMetrics', { refId: 'A', groupBy: ['deviceModel'] })).toEqual({
        queryType: 'sessionMetrics',
        metric: 'errorSessionRatio',
        groupBy: 'deviceModel',
      });
      expect(typeDefaults('latencyBreakdown', { refId: 'A', groupBy: 'deviceModel' })).toEqual({
        queryType: 'latencyBreakdown',
        groupBy: ['deviceModel'],
      });
      expect(typeDefaults('errorCascades', { refId: 'A' })).toEqual({ queryType: 'errorCascades' });
    });
  });
});
