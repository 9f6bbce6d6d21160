import {
  CoreApp,
  DataQueryError,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  LegacyMetricFindQueryOptions,
  LoadingState,
  MetricFindValue,
  ScopedVars,
  TimeRange,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable, map, of } from 'rxjs';

import {
  DEFAULT_QUERY,
  SESSION_TEXT_FILTERS,
  StitchJsonData,
  StitchQuery,
  StitchVariableQuery,
  VALUE_ATTRIBUTES,
  ValueAttribute,
  ValuesResponse,
  isValueAttribute,
  variableAttribute,
} from './types';
import { StitchVariableSupport } from './variables';

const INTERPOLATED_FIELDS = ['sessionId', 'traceId', ...SESSION_TEXT_FILTERS] as const;

type InterpolatedField = (typeof INTERPOLATED_FIELDS)[number];

/** A field whose template variable expanded to more than one value. */
export interface MultiValuedField {
  field: InterpolatedField;
  /** `$name` of the variable, or the field's raw text when the variable is unknown. */
  variable: string;
  values: string[];
}

/**
 * Every Stitch filter and ID matches exactly one value. A multi-value variable (several values selected, or
 * "All") cannot be expressed, so such a query is not sent and its row shows this message instead.
 */
export function multiValueMessage({ field, variable, values }: MultiValuedField): string {
  const shown = values.slice(0, 3).join(', ') + (values.length > 3 ? ', …' : '');
  return (
    `${field}: ${variable} has ${values.length} values (${shown}) but Stitch matches a single value here. ` +
    `Select one value, or turn off "Multi-value" and "Include All option" in the variable's settings.`
  );
}

/** The most useful text in an error thrown by getResource / getBackendSrv (FetchError) or anything else. */
export function resourceErrorMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { data?: unknown; message?: unknown; status?: unknown; statusText?: unknown };
    if (e.data && typeof e.data === 'object') {
      const d = e.data as { error?: unknown; message?: unknown };
      if (typeof d.error === 'string' && d.error !== '') {
        return d.error;
      }
      if (typeof d.message === 'string' && d.message !== '') {
        return d.message;
      }
    }
    if (typeof e.message === 'string' && e.message !== '') {
      return e.message;
    }
    if (typeof e.status === 'number') {
      return `HTTP ${e.status}${typeof e.statusText === 'string' && e.statusText ? ` ${e.statusText}` : ''}`;
    }
  }
  const s = String(err ?? '');
  return s !== '' ? s : 'unknown error';
}

export class DataSource extends DataSourceWithBackend<StitchQuery, StitchJsonData> {
  constructor(instanceSettings: DataSourceInstanceSettings<StitchJsonData>) {
    super(instanceSettings);
    this.variables = new StitchVariableSupport(this);
  }

  getDefaultQuery(_: CoreApp): Partial<StitchQuery> {
    return DEFAULT_QUERY;
  }

  /**
   * Interpolates template variables in every free-text field of the query. A multi-value variable is joined
   * with commas here (this method must not throw: Explore and expressions call it too); `query` refuses to
   * send such a query and reports why.
   */
  applyTemplateVariables(query: StitchQuery, scopedVars: ScopedVars): StitchQuery {
    return this.interpolate(query, scopedVars).query;
  }

  /** Checks every target for multi-value variables; those are answered with an error and not sent. */
  query(request: DataQueryRequest<StitchQuery>): Observable<DataQueryResponse> {
    const errors: DataQueryError[] = [];
    const targets = request.targets.filter((target) => {
      // Expressions and queries of other data sources (mixed panels) are not ours to check.
      if (target.datasource?.type && target.datasource.type !== this.type) {
        return true;
      }
      const [problem] = this.interpolate(target, request.scopedVars).multiValued;
      if (problem) {
        errors.push({ refId: target.refId, message: multiValueMessage(problem) });
        return false;
      }
      return true;
    });
    if (errors.length === 0) {
      return super.query(request);
    }
    if (targets.length === 0) {
      return of({ data: [], errors, state: LoadingState.Error });
    }
    return super
      .query({ ...request, targets })
      .pipe(map((response) => ({ ...response, errors: [...(response.errors ?? []), ...errors] })));
  }

  /** Queries hidden in the editor ("disable query") are not sent to the backend. */
  filterQuery(query: StitchQuery): boolean {
    return !query.hide;
  }

  /**
   * The values of one attribute seen in the time range (all of them when `range` is absent: the backend then
   * uses the last hour). Rejects with an Error carrying the backend's message.
   */
  async getAttributeValues(attribute: ValueAttribute, range?: TimeRange): Promise<ValuesResponse> {
    const params: Record<string, string | number> = { attribute };
    if (range) {
      params.from = range.from.valueOf();
      params.to = range.to.valueOf();
    }
    let response: Partial<ValuesResponse> | undefined;
    try {
      response = await this.getResource<Partial<ValuesResponse>>('values', params, { showErrorAlert: false });
    } catch (err) {
      throw new Error(resourceErrorMessage(err));
    }
    const values = Array.isArray(response?.values) ? response.values.filter((v) => typeof v === 'string') : [];
    return { attribute, values, truncated: response?.truncated === true };
  }

  /** `$name` of every dashboard variable, offered in the editor's filter selects. */
  getVariableNames(): string[] {
    return getTemplateSrv()
      .getVariables()
      .map((v) => `$${v.name}`);
  }

  /**
   * Template variable values: the `values` route for the variable's attribute in the dashboard's time range.
   * Also the legacy variable API, so it accepts a bare attribute name too.
   */
  async metricFindQuery(
    query: StitchVariableQuery | string,
    options?: LegacyMetricFindQueryOptions
  ): Promise<MetricFindValue[]> {
    const attribute = variableAttribute(query);
    if (attribute === undefined) {
      return [];
    }
    if (!isValueAttribute(attribute)) {
      throw new Error(`Unknown attribute "${attribute}": choose one of ${VALUE_ATTRIBUTES.join(', ')}`);
    }
    const { values } = await this.getAttributeValues(attribute, options?.range);
    return values.map((value) => ({ text: value, value }));
  }

  private interpolate(
    query: StitchQuery,
    scopedVars: ScopedVars
  ): { query: StitchQuery; multiValued: MultiValuedField[] } {
    const templateSrv = getTemplateSrv();
    const interpolated: StitchQuery = { ...query };
    const multiValued: MultiValuedField[] = [];
    for (const field of INTERPOLATED_FIELDS) {
      const raw = query[field];
      if (typeof raw !== 'string') {
        continue;
      }
      // A format function sees each variable's value before it is formatted: an array for a multi-value
      // variable (one element when a single value is selected, every value for "All").
      const format = (value: unknown, variable?: { name?: string }): string => {
        if (!Array.isArray(value)) {
          return value === undefined || value === null ? '' : String(value);
        }
        const values = value.map(String);
        if (values.length > 1) {
          multiValued.push({ field, variable: variable?.name ? `$${variable.name}` : raw, values });
        }
        return values.join(',');
      };
      interpolated[field] = templateSrv.replace(raw, scopedVars, format);
    }
    return { query: interpolated, multiValued };
  }
}
