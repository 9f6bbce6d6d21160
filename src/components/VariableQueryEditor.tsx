import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import {
  StitchJsonData,
  StitchQuery,
  StitchVariableQuery,
  ValueAttribute,
  isValueAttribute,
  variableAttribute,
} from '../types';

export type VariableQueryEditorProps = QueryEditorProps<DataSource, StitchQuery, StitchJsonData, StitchVariableQuery>;

export const ATTRIBUTE_OPTIONS: Array<SelectableValue<ValueAttribute>> = [
  { label: 'Session ID', value: 'sessionId', description: 'Sessions seen in the time range, e.g. for $session' },
  { label: 'Endpoint', value: 'endpoint', description: 'Backend endpoints the app called, e.g. for $endpoint' },
  { label: 'App service', value: 'appService' },
  { label: 'App version', value: 'appVersion' },
  { label: 'OS version', value: 'osVersion' },
  { label: 'Device model', value: 'deviceModel' },
  { label: 'Network type', value: 'networkType' },
];

/** Edits a query variable's `{ attribute }`: which attribute's values the variable lists. */
export function VariableQueryEditor({ query, onChange }: VariableQueryEditorProps) {
  // A new variable's query is an empty string until an attribute is picked.
  const stored = variableAttribute(query as StitchVariableQuery | string | undefined);
  const unknown = stored !== undefined && !isValueAttribute(stored);

  return (
    <InlineFieldRow>
      <InlineField
        label="Attribute"
        labelWidth={16}
        tooltip="The variable lists this attribute's values in the dashboard's time range (at most 500)"
        invalid={unknown}
        error={unknown ? `Unknown attribute "${stored}": pick one from the list` : undefined}
      >
        {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
        <Select<ValueAttribute>
          inputId="stitch-variable-attribute"
          options={ATTRIBUTE_OPTIONS}
          value={stored !== undefined && isValueAttribute(stored) ? stored : null}
          placeholder="Choose an attribute"
          onChange={(v) => {
            if (v?.value) {
              const base = typeof query === 'object' && query !== null ? query : { refId: 'StitchVariableQuery' };
              onChange({ ...base, attribute: v.value });
            }
          }}
          width={32}
        />
      </InlineField>
    </InlineFieldRow>
  );
}
