import React, { useRef, useState } from 'react';
import { SelectableValue, TimeRange } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { ValueAttribute } from '../types';

/** Value of the disabled hint shown after the options when the route returned only part of them. */
export const TRUNCATED_HINT_VALUE = '__stitch_values_truncated__';

interface LoadState {
  /** The time range the values were (or are being) loaded for. */
  key: string;
  status: 'loading' | 'done' | 'error';
  values: string[];
  truncated: boolean;
  error?: string;
}

export interface AttributeSelectProps {
  id: string;
  label: string;
  labelWidth: number;
  attribute: ValueAttribute;
  placeholder: string;
  value: string | undefined;
  datasource: DataSource;
  range?: TimeRange;
  onChange: (value: string | undefined) => void;
}

function rangeKey(range?: TimeRange): string {
  return range ? `${range.from.valueOf()}-${range.to.valueOf()}` : 'default';
}

function variableNames(datasource: DataSource): string[] {
  try {
    return datasource.getVariableNames();
  } catch {
    // No template service (e.g. outside a dashboard): no variables to offer.
    return [];
  }
}

/**
 * A filter select whose options are the attribute's values in the panel's time range, loaded from the `values`
 * route when the menu first opens (and again after the time range changes or a load failed). Any typed value is
 * accepted, so `$variable` references and values outside the list work. A failed load is shown on the field.
 */
export function AttributeSelect({
  id,
  label,
  labelWidth,
  attribute,
  placeholder,
  value,
  datasource,
  range,
  onChange,
}: AttributeSelectProps) {
  const [state, setState] = useState<LoadState | undefined>(undefined);
  const latest = useRef<string | undefined>(undefined);
  const key = rangeKey(range);
  const current = state?.key === key ? state : undefined;

  const load = () => {
    if (current && current.status !== 'error') {
      return; // loaded, or loading, for this time range
    }
    latest.current = key;
    setState({ key, status: 'loading', values: [], truncated: false });
    datasource.getAttributeValues(attribute, range).then(
      (res) => {
        if (latest.current === key) {
          setState({ key, status: 'done', values: res.values, truncated: res.truncated });
        }
      },
      (err: unknown) => {
        if (latest.current === key) {
          const error = err instanceof Error ? err.message : String(err);
          setState({ key, status: 'error', values: [], truncated: false, error });
        }
      }
    );
  };

  // Rebuilt on every render (at most ~500 entries) so the dashboard's variables are always current.
  const options: Array<SelectableValue<string>> = variableNames(datasource).map((name) => ({
    label: name,
    value: name,
    description: 'Dashboard variable',
  }));
  for (const v of current?.values ?? []) {
    options.push({ label: v, value: v });
  }
  if (current?.truncated) {
    options.push({
      label: `Only the first ${current.values.length} values are listed: type to use another`,
      value: TRUNCATED_HINT_VALUE,
      isDisabled: true,
    });
  }

  const error =
    current?.status === 'error' ? `Could not load ${label.toLowerCase()} values: ${current.error}` : undefined;

  return (
    <InlineField label={label} labelWidth={labelWidth} invalid={error !== undefined} error={error}>
      {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
      <Select<string>
        inputId={id}
        width={24}
        placeholder={placeholder}
        options={options}
        value={value ? { label: value, value } : null}
        onOpenMenu={load}
        isLoading={current?.status === 'loading'}
        loadingMessage="Loading values…"
        noOptionsMessage="No values in this time range: type one"
        allowCustomValue
        allowCreateWhileLoading
        isClearable
        onChange={(v: SelectableValue<string> | null) => {
          const next = typeof v?.value === 'string' ? v.value.trim() : '';
          onChange(next === '' ? undefined : next);
        }}
      />
    </InlineField>
  );
}
