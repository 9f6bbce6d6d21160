import React, { ChangeEvent, FormEvent } from 'react';
import { DataSourcePluginOptionsEditorProps, SelectableValue } from '@grafana/data';
import { Alert, Field, FieldSet, Input, SecretInput, SecretTextArea, Select, Stack, Switch, Text } from '@grafana/ui';

import {
  AuthMode,
  DEFAULT_TIMEOUT_SECONDS,
  STORE_KINDS,
  STORE_ROLES,
  SecureKey,
  SecureSuffix,
  StitchJsonData,
  StitchSecureJsonData,
  StoreKind,
  StoreRole,
  StoreSettings,
  secureKey,
} from '../types';

export interface Props extends DataSourcePluginOptionsEditorProps<StitchJsonData, StitchSecureJsonData> {}

const INPUT_WIDTH = 48;

const ROLE_TITLES: Record<StoreRole, string> = {
  traces: 'Traces',
  logs: 'Logs',
  metrics: 'Metrics',
};

const KIND_LABELS: Record<StoreKind, string> = {
  jaeger: 'Jaeger',
  tempo: 'Tempo',
  victorialogs: 'VictoriaLogs',
  loki: 'Loki',
  prometheus: 'Prometheus',
};

const KIND_URL_PLACEHOLDERS: Record<StoreKind, string> = {
  jaeger: 'http://127.0.0.1:16686',
  tempo: 'http://127.0.0.1:3200',
  victorialogs: 'http://127.0.0.1:9428',
  loki: 'http://127.0.0.1:3100',
  prometheus: 'http://127.0.0.1:9090',
};

const AUTH_OPTIONS: Array<SelectableValue<AuthMode>> = [
  { label: 'No authentication', value: 'none' },
  { label: 'Basic authentication', value: 'basic' },
  { label: 'Bearer token', value: 'bearer' },
];

/** Which optional fields a store of this role and kind takes. */
export function storeFields(role: StoreRole, kind: StoreKind | undefined): { tenant: boolean; account: boolean } {
  switch (role) {
    case 'traces':
      return { tenant: kind === 'tempo', account: false };
    case 'logs':
      return { tenant: kind === 'loki', account: kind === 'victorialogs' };
    case 'metrics':
      return { tenant: true, account: false };
  }
}

/** The settings a store gets when the user turns it on. */
export function defaultStoreSettings(role: StoreRole): StoreSettings {
  return { kind: STORE_KINDS[role][0], url: '', auth: 'none', timeoutSeconds: DEFAULT_TIMEOUT_SECONDS };
}

/** Grafana's rule for data source uids; the backend checks the same. */
const DATASOURCE_UID = /^[a-zA-Z0-9_-]{1,40}$/;
const LINK_TARGETS = { traces: 'Tempo or Jaeger', logs: 'Loki or VictoriaLogs' } as const;
const DIGITS = /^\d*$/;
const HTTP_URL = /^https?:\/\/\S+$/i;
/** Prometheus' metric name rule; the backend checks the same. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const DEFAULT_REQUEST_DURATION_METRIC = 'stitch_requests_duration_milliseconds';

export function ConfigEditor(props: Props) {
  const { options, onOptionsChange } = props;
  const jsonData = options.jsonData ?? {};

  const setStore = (role: StoreRole, settings: StoreSettings | undefined) => {
    const next: StitchJsonData = { ...options.jsonData };
    if (settings === undefined) {
      delete next[role];
    } else {
      next[role] = settings;
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  const updateStore = (role: StoreRole, patch: Partial<StoreSettings>) => {
    const merged: StoreSettings = { ...options.jsonData?.[role], ...patch };
    // A field patched to undefined is removed, not kept as an undefined key.
    for (const field of Object.keys(merged) as Array<keyof StoreSettings>) {
      if (merged[field] === undefined) {
        delete merged[field];
      }
    }
    setStore(role, merged);
  };

  // Each secret is updated on its own: the other keys of secureJsonData are kept as they are.
  const onSecretChange = (key: SecureKey, value: string) => {
    onOptionsChange({
      ...options,
      secureJsonData: { ...options.secureJsonData, [key]: value },
    });
  };

  // Reset clears only this key; the other configured secrets stay configured.
  const onSecretReset = (key: SecureKey) => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...options.secureJsonFields, [key]: false },
      secureJsonData: { ...options.secureJsonData, [key]: '' },
    });
  };

  const noneConfigured = STORE_ROLES.every((role) => !jsonData[role]);

  return (
    <Stack direction="column" gap={2}>
      <Text color="secondary">
        Stitch joins mobile sessions with backend traces, logs and metrics. Configure the stores it reads from; a store
        that is turned off is not queried.
      </Text>
      {noneConfigured && (
        <Alert severity="warning" title="No store configured">
          Turn on at least one of Traces, Logs or Metrics.
        </Alert>
      )}
      {STORE_ROLES.map((role) => (
        <StoreSection
          key={role}
          role={role}
          settings={jsonData[role]}
          secureJsonFields={options.secureJsonFields ?? {}}
          secureJsonData={options.secureJsonData ?? {}}
          onEnable={(enabled) => setStore(role, enabled ? defaultStoreSettings(role) : undefined)}
          onChange={(patch) => updateStore(role, patch)}
          onSecretChange={onSecretChange}
          onSecretReset={onSecretReset}
        />
      ))}
    </Stack>
  );
}

interface StoreSectionProps {
  role: StoreRole;
  settings: StoreSettings | undefined;
  secureJsonFields: Record<string, boolean>;
  secureJsonData: StitchSecureJsonData;
  onEnable: (enabled: boolean) => void;
  onChange: (patch: Partial<StoreSettings>) => void;
  onSecretChange: (key: SecureKey, value: string) => void;
  onSecretReset: (key: SecureKey) => void;
}

function StoreSection({
  role,
  settings,
  secureJsonFields,
  secureJsonData,
  onEnable,
  onChange,
  onSecretChange,
  onSecretReset,
}: StoreSectionProps) {
  const id = (name: string) => `stitch-${role}-${name}`;
  const enabled = settings !== undefined;

  const secretProps = (suffix: SecureSuffix) => {
    const key = secureKey(role, suffix);
    return {
      id: id(suffix),
      isConfigured: Boolean(secureJsonFields[key]),
      value: secureJsonData[key] ?? '',
      onReset: () => onSecretReset(key),
      onChange: (e: FormEvent<HTMLInputElement | HTMLTextAreaElement>) => onSecretChange(key, e.currentTarget.value),
    };
  };

  const onText = (
    field:
      | 'url'
      | 'basicAuthUser'
      | 'tenant'
      | 'accountId'
      | 'projectId'
      | 'tlsServerName'
      | 'linkDatasourceUid'
      | 'requestDurationMetric'
  ) => ({
    value: settings?.[field] ?? '',
    onChange: (e: ChangeEvent<HTMLInputElement>) => onChange({ [field]: e.currentTarget.value }),
  });

  const onKindChange = (kind: StoreKind) => {
    // Drop the fields the new kind does not take, so the backend never sees e.g. a Loki tenant on VictoriaLogs.
    const allowed = storeFields(role, kind);
    onChange({
      kind,
      ...(allowed.tenant ? {} : { tenant: undefined }),
      ...(allowed.account ? {} : { accountId: undefined, projectId: undefined }),
    });
  };

  const kindOptions: Array<SelectableValue<StoreKind>> = STORE_KINDS[role].map((kind) => ({
    label: KIND_LABELS[kind],
    value: kind,
  }));
  const fields = storeFields(role, settings?.kind);
  const auth = settings?.auth ?? 'none';
  const url = settings?.url ?? '';
  const urlError = url === '' ? 'URL is required' : HTTP_URL.test(url) ? undefined : 'Use an http:// or https:// URL';
  const timeout = settings?.timeoutSeconds;
  const timeoutInvalid = timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1);
  const accountInvalid = !DIGITS.test(settings?.accountId ?? '');
  const projectInvalid = !DIGITS.test(settings?.projectId ?? '');
  const linkUid = settings?.linkDatasourceUid ?? '';
  const linkUidInvalid = linkUid !== '' && !DATASOURCE_UID.test(linkUid);
  const metricName = settings?.requestDurationMetric ?? '';
  const metricNameInvalid = metricName !== '' && !METRIC_NAME.test(metricName);

  return (
    <FieldSet label={ROLE_TITLES[role]}>
      <Field label="Enabled" description={`Query a ${ROLE_TITLES[role].toLowerCase()} store`}>
        <Switch id={id('enabled')} value={enabled} onChange={(e) => onEnable(e.currentTarget.checked)} />
      </Field>

      {enabled && (
        <>
          <Field label="Kind">
            {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
            <Select<StoreKind>
              inputId={id('kind')}
              options={kindOptions}
              value={settings.kind ?? null}
              placeholder="Choose a kind"
              onChange={(v) => v.value && onKindChange(v.value)}
              width={INPUT_WIDTH}
            />
          </Field>

          <Field label="URL" required invalid={urlError !== undefined} error={urlError}>
            <Input
              id={id('url')}
              placeholder={settings.kind ? KIND_URL_PLACEHOLDERS[settings.kind] : 'http://127.0.0.1'}
              width={INPUT_WIDTH}
              {...onText('url')}
            />
          </Field>

          {fields.tenant && (
            <Field
              label="Tenant"
              description={
                role === 'metrics'
                  ? 'Optional. Sent as X-Scope-OrgID (Mimir, Cortex).'
                  : 'Sent as the X-Scope-OrgID header.'
              }
            >
              <Input id={id('tenant')} width={INPUT_WIDTH} {...onText('tenant')} />
            </Field>
          )}

          {fields.account && (
            <>
              <Field
                label="Account ID"
                description="VictoriaLogs AccountID (digits); empty means 0."
                invalid={accountInvalid}
                error="Digits only"
              >
                <Input id={id('accountId')} width={INPUT_WIDTH} inputMode="numeric" {...onText('accountId')} />
              </Field>
              <Field
                label="Project ID"
                description="VictoriaLogs ProjectID (digits); empty means 0."
                invalid={projectInvalid}
                error="Digits only"
              >
                <Input id={id('projectId')} width={INPUT_WIDTH} inputMode="numeric" {...onText('projectId')} />
              </Field>
            </>
          )}

          <Field label="Authentication">
            {/* eslint-disable-next-line @typescript-eslint/no-deprecated -- Combobox is not in Grafana 10.4 (plugin.json grafanaDependency) */}
            <Select<AuthMode>
              inputId={id('auth')}
              options={AUTH_OPTIONS}
              value={auth}
              onChange={(v) => v.value && onChange({ auth: v.value })}
              width={INPUT_WIDTH}
            />
          </Field>

          {auth === 'basic' && (
            <>
              <Field label="User">
                <Input id={id('basicAuthUser')} width={INPUT_WIDTH} {...onText('basicAuthUser')} />
              </Field>
              <Field label="Password" data-testid={`secret-${secureKey(role, 'BasicAuthPassword')}`}>
                <SecretInput width={INPUT_WIDTH} {...secretProps('BasicAuthPassword')} />
              </Field>
            </>
          )}

          {auth === 'bearer' && (
            <Field label="Bearer token" data-testid={`secret-${secureKey(role, 'BearerToken')}`}>
              <SecretInput width={INPUT_WIDTH} {...secretProps('BearerToken')} />
            </Field>
          )}

          <Text element="h4" variant="h6">
            TLS
          </Text>
          <Field
            label="CA certificate"
            description="PEM. When set, the server certificate is verified against this CA."
            data-testid={`secret-${secureKey(role, 'TLSCACert')}`}
          >
            <SecretTextArea
              rows={4}
              cols={INPUT_WIDTH}
              placeholder="-----BEGIN CERTIFICATE-----"
              {...secretProps('TLSCACert')}
            />
          </Field>
          <Field
            label="Client certificate"
            description="PEM. With a client key, enables mutual TLS."
            data-testid={`secret-${secureKey(role, 'TLSClientCert')}`}
          >
            <SecretTextArea
              rows={4}
              cols={INPUT_WIDTH}
              placeholder="-----BEGIN CERTIFICATE-----"
              {...secretProps('TLSClientCert')}
            />
          </Field>
          <Field
            label="Client key"
            description="PEM private key for the client certificate."
            data-testid={`secret-${secureKey(role, 'TLSClientKey')}`}
          >
            <SecretTextArea
              rows={4}
              cols={INPUT_WIDTH}
              placeholder="-----BEGIN PRIVATE KEY-----"
              {...secretProps('TLSClientKey')}
            />
          </Field>
          <Field label="Skip TLS verify" description="Do not verify the server certificate. Insecure.">
            <Switch
              id={id('tlsSkipVerify')}
              value={settings.tlsSkipVerify ?? false}
              onChange={(e) => onChange({ tlsSkipVerify: e.currentTarget.checked })}
            />
          </Field>
          <Field label="TLS server name" description="Overrides the name checked against the server certificate.">
            <Input id={id('tlsServerName')} width={INPUT_WIDTH} {...onText('tlsServerName')} />
          </Field>

          {role !== 'metrics' && (
            <Field
              label="Data source for links"
              description={`Uid of the Grafana ${LINK_TARGETS[role]} data source that Stitch's links open ${
                role === 'traces' ? 'a trace' : "a span's logs"
              } in. Leave empty for no such links.`}
              invalid={linkUidInvalid}
              error="A data source uid: 1 to 40 letters, digits, - and _"
            >
              <Input id={id('linkDatasourceUid')} width={INPUT_WIDTH} {...onText('linkDatasourceUid')} />
            </Field>
          )}

          {role === 'metrics' && (
            <Field
              label="Request-duration histogram"
              description={`Histogram (name without _bucket) the latency breakdown and exemplar sessions read: the app's client spans (span_kind SPAN_KIND_CLIENT, url_template, service_version, ...) and the backends' server spans (SPAN_KIND_SERVER, http_route, job). Empty means ${DEFAULT_REQUEST_DURATION_METRIC}, what the reference collector's span metrics write.`}
              invalid={metricNameInvalid}
              error="A Prometheus metric name: letters, digits, _ and :, not starting with a digit"
            >
              <Input
                id={id('requestDurationMetric')}
                width={INPUT_WIDTH}
                placeholder={DEFAULT_REQUEST_DURATION_METRIC}
                {...onText('requestDurationMetric')}
              />
            </Field>
          )}

          <Field label="Timeout (seconds)" invalid={timeoutInvalid} error="Use a whole number of seconds, 1 or more">
            <Input
              id={id('timeoutSeconds')}
              type="number"
              min={1}
              step={1}
              width={16}
              placeholder={String(DEFAULT_TIMEOUT_SECONDS)}
              value={timeout ?? ''}
              onChange={(e: ChangeEvent<HTMLInputElement>) => {
                const raw = e.currentTarget.value;
                onChange({ timeoutSeconds: raw === '' ? undefined : Number(raw) });
              }}
            />
          </Field>
        </>
      )}
    </FieldSet>
  );
}
