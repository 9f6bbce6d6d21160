import React, { ChangeEvent, useState } from 'react';
import { QueryEditorProps, SelectableValue, TimeRange } from '@grafana/data';
import { InlineField, InlineFieldRow, InlineSwitch, Input, MultiSelect, Select, Stack } from '@grafana/ui';

import { AttributeSelect } from './AttributeSelect';
import { DataSource } from '../datasource';
import {
  DEFAULT_LIMIT,
  GROUP_BY_ATTRIBUTES,
  GroupByAttribute,
  MAX_LIMIT,
  SessionMetric,
  SessionOrder,
  SessionTextFilter,
  StitchJsonData,
  StitchQuery,
  StitchQueryType,
} from '../types';
import { sessionIdError, traceIdError } from '../validation';

export type Props = QueryEditorProps<DataSource, StitchQuery, StitchJsonData>;

const LABEL_WIDTH = 16;

const QUERY_TYPE_OPTIONS: Array<SelectableValue<StitchQueryType>> = [
  { label: 'Sessions', value: 'sessions', description: 'Find sessions by app, device, network and endpoint' },
  { label: 'Session timeline', value: 'sessionTimeline', description: 'One session: spans, logs and events in order' },
  { label: 'Trace to session', value: 'traceToSession', description: 'The session a backend trace belongs to' },
  {
    label: 'Latency breakdown',
    value: 'latencyBreakdown',
    description: 'Client, server and network p50/p95/p99 per endpoint, version, device or network',
  },
  {
    label: 'Error cascades',
    value: 'errorCascades',
    description: 'Failed requests grouped by the backend span that failed first',
  },
  {
    label: 'Propagation health',
    value: 'propagationHealth',
    description: 'Trace context coverage per host and session context per service',
  },
  { label: 'Session metrics', value: 'sessionMetrics', description: 'Alertable time series of session metrics' },
  {
    label: 'Exemplar sessions',
    value: 'exemplarSessions',
    description: "The sessions behind an endpoint's latency or error spike, from Prometheus exemplars",
  },
];

const GROUP_BY_LABELS: { [A in GroupByAttribute]: string } = {
  endpoint: 'Endpoint',
  appVersion: 'App version',
  osVersion: 'OS version',
  deviceModel: 'Device model',
  networkType: 'Network type',
};

const GROUP_BY_OPTIONS: Array<SelectableValue<GroupByAttribute>> = GROUP_BY_ATTRIBUTES.map((a) => ({
  label: GROUP_BY_LABELS[a],
  value: a,
}));

const ORDER_OPTIONS: Array<SelectableValue<SessionOrder>> = [
  { label: 'Latest first', value: 'start', description: 'Most recent session start first' },
  { label: 'Longest first', value: 'duration', description: 'Longest sessions first' },
  { label: 'Most errors first', value: 'errors', description: 'Sessions with the most failed requests first' },
];

const METRIC_OPTIONS: Array<SelectableValue<SessionMetric>> = [
  { label: 'Sessions', value: 'sessions', description: 'Sessions active in each interval' },
  { label: 'Sessions with errors', value: 'sessionsWithErrors', description: 'Sessions with a failed request' },
  { label: 'Error-session ratio', value: 'errorSessionRatio', description: 'Sessions with errors / sessions (0..1)' },
  {
    label: 'Client latency p95',
    value: 'clientLatencyP95',
    description: "The app's request time, ms, from the Prometheus request-duration histogram; any group",
  },
  {
    label: 'Server latency p95',
    value: 'serverLatencyP95',
    description:
      "The backend's server time on the endpoint's route, ms, from the Prometheus request-duration histogram; ungrouped or by endpoint",
  },
  {
    label: 'Network latency p95',
    value: 'networkLatencyP95',
    description:
      'Not a p95: mean client time − mean server time per endpoint (network and queueing), ms, from the Prometheus histograms; by endpoint',
  },
  {
    label: 'Propagation coverage',
    value: 'propagationCoverage',
    description: 'Share of requests whose backend trace was found (0..1)',
  },
  {
    label: 'New cascade signatures',
    value: 'newCascadeSignatures',
    description: 'Failure chains first seen in each interval, unseen in the 24 h before the range',
  },
];

export const DEFAULT_METRIC: SessionMetric = 'errorSessionRatio';

/** latencyBreakdown's groupBy as a list: the default (endpoint) when absent or empty. */
export function breakdownGroupBy(groupBy: StitchQuery['groupBy']): GroupByAttribute[] {
  const list = Array.isArray(groupBy) ? groupBy : groupBy ? [groupBy] : [];
  return list.length > 0 ? list : ['endpoint'];
}

/** sessionMetrics' groupBy: one attribute or none. */
export function metricsGroupBy(groupBy: StitchQuery['groupBy']): GroupByAttribute | undefined {
  return Array.isArray(groupBy) ? groupBy[0] : groupBy;
}

const TEXT_FILTERS: Array<{ field: SessionTextFilter; label: string; placeholder: string }> = [
  { field: 'appService', label: 'App service', placeholder: 'ios-app' },
  { field: 'appVersion', label: 'App version', placeholder: '2.4.1' },
  { field: 'osVersion', label: 'OS version', placeholder: '17.5' },
  { field: 'deviceModel', label: 'Device model', placeholder: 'iPhone15,2' },
  { field: 'networkType', label: 'Network type', placeholder: 'wifi' },
  { field: 'endpoint', label: 'Endpoint', placeholder: '/api/checkout' },
];

/**
 * Turns what the user typed into a limit the backend accepts: empty or not a number gives
 * DEFAULT_LIMIT, anything else is rounded down and clamped to 1..MAX_LIMIT.
 */
export function clampLimit(raw: string): number {
  const n = Math.floor(Number(raw));
  if (raw.trim() === '' || !Number.isFinite(n)) {
    return DEFAULT_LIMIT;
  }
  return Math.min(MAX_LIMIT, Math.max(1, n));
}

function isValidLimit(raw: string): boolean {
  if (raw.trim() === '') {
    return true;
  }
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT;
}

/** The patch that switches a query's type, giving the new type the fields it requires. */
export function typeDefaults(queryType: StitchQueryType, query: StitchQuery): Partial<StitchQuery> {
  const patch: Partial<StitchQuery> = { queryType };
  if (queryType === 'sessionMetrics') {
    patch.metric = query.metric ?? DEFAULT_METRIC;
    patch.groupBy = metricsGroupBy(query.groupBy);
  }
  if (queryType === 'latencyBreakdown') {
    patch.groupBy = breakdownGroupBy(query.groupBy);
  }
  return patch;
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: Props) {
  const queryType: StitchQueryType = query.queryType ?? 'sessions';
  // Several Stitch queries can share a panel editor: keep element ids unique per query row.
  const idPrefix = `stitch-query-${query.refId}`;

  const update = (patch: Partial<StitchQuery>, run = false) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };

  const textProps = (field: 'sessionId' | 'traceId') => ({
    id: `${idPrefix}-${field}`,
    value: query[field] ?? '',
    onChange: (e: ChangeEvent<HTMLInputElement>) => update({ [field]: e.currentTarget.value }),
    onBlur: () => onRunQuery(),
  });
  const sessionIdProblem = sessionIdError(query.sessionId);
  const traceIdProblem = traceIdError(query.traceId);

  return (
    <Stack direction="column" gap={0}>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH}>
          {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
          <Select<StitchQueryType>
            inputId={`${idPrefix}-type`}
            options={QUERY_TYPE_OPTIONS}
            value={queryType}
            onChange={(v) => v.value && update(typeDefaults(v.value, query), true)}
            width={32}
          />
        </InlineField>
      </InlineFieldRow>

      {queryType === 'sessions' && (
        <SessionsFields
          idPrefix={idPrefix}
          query={query}
          update={update}
          onRunQuery={onRunQuery}
          datasource={datasource}
          range={range}
        />
      )}

      {queryType === 'sessionTimeline' && (
        <InlineFieldRow>
          <InlineField
            label="Session ID"
            labelWidth={LABEL_WIDTH}
            tooltip="32 lowercase hex characters; template variables such as $session work"
            invalid={sessionIdProblem !== undefined}
            error={sessionIdProblem}
          >
            <Input width={48} placeholder="32 hex characters or $session" {...textProps('sessionId')} />
          </InlineField>
        </InlineFieldRow>
      )}

      {queryType === 'latencyBreakdown' && (
        <InlineFieldRow>
          <InlineField label="Group by" labelWidth={LABEL_WIDTH} tooltip="One or more attributes; endpoint when empty">
            {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
            <MultiSelect<GroupByAttribute>
              inputId={`${idPrefix}-groupBy`}
              options={GROUP_BY_OPTIONS}
              value={breakdownGroupBy(query.groupBy)}
              onChange={(vs) => update({ groupBy: vs.flatMap((v) => (v.value ? [v.value] : [])) }, true)}
              width={48}
            />
          </InlineField>
          <LimitField
            key={query.limit ?? DEFAULT_LIMIT}
            id={`${idPrefix}-limit`}
            limit={query.limit}
            onCommit={(limit) => update({ limit }, true)}
          />
        </InlineFieldRow>
      )}

      {queryType === 'errorCascades' && (
        <InlineFieldRow>
          <LimitField
            key={query.limit ?? DEFAULT_LIMIT}
            id={`${idPrefix}-limit`}
            limit={query.limit}
            onCommit={(limit) => update({ limit }, true)}
          />
        </InlineFieldRow>
      )}

      {queryType === 'sessionMetrics' && (
        <InlineFieldRow>
          <InlineField label="Metric" labelWidth={LABEL_WIDTH}>
            {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
            <Select<SessionMetric>
              inputId={`${idPrefix}-metric`}
              options={METRIC_OPTIONS}
              value={query.metric ?? DEFAULT_METRIC}
              onChange={(v) => v.value && update({ metric: v.value }, true)}
              width={32}
            />
          </InlineField>
          <InlineField label="Group by" labelWidth={LABEL_WIDTH} tooltip="One series per value; none for one series">
            {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
            <Select<GroupByAttribute>
              inputId={`${idPrefix}-metricGroupBy`}
              options={GROUP_BY_OPTIONS}
              value={metricsGroupBy(query.groupBy) ?? null}
              onChange={(v) => update({ groupBy: v?.value }, true)}
              isClearable
              placeholder="None"
              width={24}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {queryType === 'exemplarSessions' && (
        <ExemplarSessionsFields
          idPrefix={idPrefix}
          query={query}
          update={update}
          onRunQuery={onRunQuery}
          datasource={datasource}
          range={range}
        />
      )}

      {queryType === 'traceToSession' && (
        <InlineFieldRow>
          <InlineField
            label="Trace ID"
            labelWidth={LABEL_WIDTH}
            tooltip="32 or 16 hex characters; template variables such as $trace work"
            invalid={traceIdProblem !== undefined}
            error={traceIdProblem}
          >
            <Input width={48} placeholder="32 hex characters or $trace" {...textProps('traceId')} />
          </InlineField>
        </InlineFieldRow>
      )}
    </Stack>
  );
}

interface SessionsFieldsProps {
  idPrefix: string;
  query: StitchQuery;
  update: (patch: Partial<StitchQuery>, run?: boolean) => void;
  onRunQuery: () => void;
  datasource: DataSource;
  range?: TimeRange;
}

function SessionsFields({ idPrefix, query, update, onRunQuery, datasource, range }: SessionsFieldsProps) {
  return (
    <>
      <InlineFieldRow>
        {TEXT_FILTERS.map(({ field, label, placeholder }) => (
          <AttributeSelect
            key={field}
            id={`${idPrefix}-${field}`}
            label={label}
            labelWidth={LABEL_WIDTH}
            attribute={field}
            placeholder={placeholder}
            value={query[field]}
            datasource={datasource}
            range={range}
            onChange={(value) => update({ [field]: value }, true)}
          />
        ))}
      </InlineFieldRow>
      <InlineFieldRow>
        <ErrorsAndDurationFields idPrefix={idPrefix} query={query} update={update} onRunQuery={onRunQuery} />
        <InlineField label="Order" tooltip="The store ranks every matching session; the limit cuts what is shown">
          {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
          <Select<SessionOrder>
            inputId={`${idPrefix}-orderBy`}
            options={ORDER_OPTIONS}
            value={query.orderBy ?? 'start'}
            onChange={(v) => update({ orderBy: v.value ?? 'start' }, true)}
            width={22}
          />
        </InlineField>
        {/* Keyed by the stored limit so the text resets when the query changes from outside. */}
        <LimitField
          key={query.limit ?? DEFAULT_LIMIT}
          id={`${idPrefix}-limit`}
          limit={query.limit}
          onCommit={(limit) => update({ limit }, true)}
        />
      </InlineFieldRow>
    </>
  );
}

/** exemplarSessions: the endpoint (required), and what makes an exemplar part of the spike. */
function ExemplarSessionsFields({ idPrefix, query, update, onRunQuery, datasource, range }: SessionsFieldsProps) {
  return (
    <InlineFieldRow>
      <AttributeSelect
        id={`${idPrefix}-endpoint`}
        label="Endpoint"
        labelWidth={LABEL_WIDTH}
        attribute="endpoint"
        placeholder="/api/checkout"
        value={query.endpoint}
        datasource={datasource}
        range={range}
        onChange={(value) => update({ endpoint: value }, true)}
      />
      <ErrorsAndDurationFields
        idPrefix={idPrefix}
        query={query}
        update={update}
        onRunQuery={onRunQuery}
        errorsTooltip="Exemplars of 5xx answers"
        durationTooltip="Only exemplars of requests at least this slow: the spike"
      />
    </InlineFieldRow>
  );
}

interface ErrorsAndDurationProps extends Pick<SessionsFieldsProps, 'idPrefix' | 'query' | 'update' | 'onRunQuery'> {
  errorsTooltip?: string;
  durationTooltip?: string;
}

/** "Errors only" and "Min duration": the sessions list's filters, and what makes an exemplar part of a spike. */
function ErrorsAndDurationFields({
  idPrefix,
  query,
  update,
  onRunQuery,
  errorsTooltip,
  durationTooltip,
}: ErrorsAndDurationProps) {
  const minDuration = query.minDurationMs;
  const minDurationInvalid = minDuration !== undefined && (!Number.isFinite(minDuration) || minDuration < 0);
  return (
    <>
      <InlineField label="Errors only" labelWidth={LABEL_WIDTH} tooltip={errorsTooltip}>
        <InlineSwitch
          id={`${idPrefix}-errorsOnly`}
          value={query.errorsOnly ?? false}
          onChange={(e) => update({ errorsOnly: e.currentTarget.checked }, true)}
        />
      </InlineField>
      <InlineField
        label="Min duration (ms)"
        labelWidth={LABEL_WIDTH + 4}
        tooltip={durationTooltip}
        invalid={minDurationInvalid}
        error="Use 0 or more milliseconds"
      >
        <Input
          id={`${idPrefix}-minDurationMs`}
          type="number"
          min={0}
          width={16}
          placeholder="0"
          value={minDuration ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) => {
            const raw = e.currentTarget.value;
            update({ minDurationMs: raw === '' ? undefined : Number(raw) });
          }}
          onBlur={onRunQuery}
        />
      </InlineField>
    </>
  );
}

interface LimitFieldProps {
  id: string;
  limit: number | undefined;
  onCommit: (limit: number) => void;
}

/** The limit is edited as text and committed (clamped) on blur, so typing "5000" doesn't jump to 1000 mid-edit. */
function LimitField({ id, limit, onCommit }: LimitFieldProps) {
  const [text, setText] = useState(String(limit ?? DEFAULT_LIMIT));

  const commit = () => {
    const clamped = clampLimit(text);
    setText(String(clamped));
    onCommit(clamped);
  };

  return (
    <InlineField
      label="Limit"
      labelWidth={LABEL_WIDTH - 6}
      invalid={!isValidLimit(text)}
      error={`Use a whole number from 1 to ${MAX_LIMIT}`}
    >
      <Input
        id={id}
        type="number"
        min={1}
        max={MAX_LIMIT}
        step={1}
        width={12}
        value={text}
        onChange={(e: ChangeEvent<HTMLInputElement>) => setText(e.currentTarget.value)}
        onBlur={commit}
      />
    </InlineField>
  );
}
