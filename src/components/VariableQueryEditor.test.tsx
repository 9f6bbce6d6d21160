import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';

import { VariableQueryEditor, VariableQueryEditorProps } from './VariableQueryEditor';
import { DataSource } from '../datasource';
import { StitchVariableQuery } from '../types';

function setup(query: StitchVariableQuery | string) {
  const onChange = jest.fn();
  const props = {
    datasource: {} as DataSource,
    query: query as StitchVariableQuery,
    onChange,
    onRunQuery: jest.fn(),
  } satisfies VariableQueryEditorProps;
  render(<VariableQueryEditor {...props} />);
  return onChange;
}

function choose(optionText: string) {
  fireEvent.keyDown(screen.getByLabelText('Attribute'), { key: 'ArrowDown' });
  fireEvent.click(within(screen.getByRole('listbox')).getByText(optionText));
}

describe('VariableQueryEditor', () => {
  it('a new variable (empty string query) asks for an attribute', () => {
    const onChange = setup('');
    expect(screen.getByText('Choose an attribute')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    choose('Session ID');
    expect(onChange).toHaveBeenCalledWith({ refId: 'StitchVariableQuery', attribute: 'sessionId' });
  });

  it('offers every attribute of the values route', () => {
    setup('');
    fireEvent.keyDown(screen.getByLabelText('Attribute'), { key: 'ArrowDown' });
    const listbox = screen.getByRole('listbox');
    for (const label of [
      'Session ID',
      'Endpoint',
      'App service',
      'App version',
      'OS version',
      'Device model',
      'Network type',
    ]) {
      expect(within(listbox).getByText(label)).toBeInTheDocument();
    }
  });

  it('shows the stored attribute and keeps the rest of the query when changed', () => {
    const onChange = setup({ refId: 'V', attribute: 'endpoint' });
    expect(screen.getByText('Endpoint')).toBeInTheDocument();
    choose('App version');
    expect(onChange).toHaveBeenCalledWith({ refId: 'V', attribute: 'appVersion' });
  });

  it('reads a bare attribute name (legacy string query)', () => {
    setup('deviceModel');
    expect(screen.getByText('Device model')).toBeInTheDocument();
  });

  it('flags an unknown attribute', () => {
    setup({ refId: 'V', attribute: 'colour' } as unknown as StitchVariableQuery);
    expect(screen.getByRole('alert')).toHaveTextContent('Unknown attribute "colour": pick one from the list');
  });
});
