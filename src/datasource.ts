import { CoreApp, DataSourceInstanceSettings, ScopedVars } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import { DEFAULT_QUERY, SESSION_TEXT_FILTERS, StitchJsonData, StitchQuery } from './types';

const INTERPOLATED_FIELDS = ['sessionId', 'traceId', ...SESSION_TEXT_FILTERS] as const;

export class DataSource extends DataSourceWithBackend<StitchQuery, StitchJsonData> {
  constructor(instanceSettings: DataSourceInstanceSettings<StitchJsonData>) {
    super(instanceSettings);
  }

  getDefaultQuery(_: CoreApp): Partial<StitchQuery> {
    return DEFAULT_QUERY;
  }

  /** Interpolates template variables in every free-text field of the query. */
  applyTemplateVariables(query: StitchQuery, scopedVars: ScopedVars): StitchQuery {
    const templateSrv = getTemplateSrv();
    const interpolated: StitchQuery = { ...query };
    for (const key of INTERPOLATED_FIELDS) {
      const value = query[key];
      if (typeof value === 'string') {
        interpolated[key] = templateSrv.replace(value, scopedVars);
      }
    }
    return interpolated;
  }

  /** Queries hidden in the editor ("disable query") are not sent to the backend. */
  filterQuery(query: StitchQuery): boolean {
    return !query.hide;
  }
}
