import React, { useState } from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';

import { QueryEditor, Props, clampLimit } from './QueryEditor';
import { DataSource } from '../datasource';
import { DEFAULT_QUERY, StitchQuery } from '../types';

const datasource = {} as DataSource;

function Harness({
  initial,
  onChange,
  onRunQuery,
}: {
  initial: StitchQuery;
  onChange: jest.Mock;
  onRunQuery: jest.Mock;
}) {
  const [query, setQuery] = useState(initial);
  const props: Props = {
    datasource,
    query,
    onChange: (q) => {
      onChange(q);
      setQuery(q);
    },
    onRunQuery,
  };
  return <QueryEditor {...props} />;
}

function setup(initial: StitchQuery = { refId: 'A', ...DEFAULT_QUERY }) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<Harness initial={initial} onChange={onChange} onRunQuery={onRunQuery} />);
  return { onChange, onRunQuery, last: (): StitchQuery => onChange.mock.calls[onChange.mock.calls.length - 1][0] };
}

function chooseQueryType(optionText: string) {
  fireEvent.keyDown(screen.getByLabelText('Query type'), { key: 'ArrowDown' });
  fireEvent.click(within(screen.getByRole('listbox')).getByText(optionText));
}

const SESSION_FILTER_LABELS = ['App service', 'App version', 'OS version', 'Device model', 'Network type', 'Endpoint'];

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

  it('edits every text filter, errorsOnly and minDurationMs', () => {
    const { last, onRunQuery } = setup();
    SESSION_FILTER_LABELS.forEach((label, i) => {
      fireEvent.change(screen.getByLabelText(label), { target: { value: `v${i}` } });
    });
    fireEvent.click(screen.getByLabelText('Errors only'));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
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
