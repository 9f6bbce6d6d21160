import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { Observable, from, map } from 'rxjs';

import { VariableQueryEditor } from './components/VariableQueryEditor';
import type { DataSource } from './datasource';
import { StitchJsonData, StitchQuery, StitchVariableQuery } from './types';

/**
 * Query variables backed by the `values` route: a variable's query is `{ attribute }` and its values are the
 * attribute's values in the dashboard's time range (e.g. `$session` from `sessionId`, `$endpoint` from
 * `endpoint`).
 */
export class StitchVariableSupport extends CustomVariableSupport<
  DataSource,
  StitchVariableQuery,
  StitchQuery,
  StitchJsonData
> {
  editor = VariableQueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<StitchVariableQuery>): Observable<DataQueryResponse> {
    // Grafana sends the variable's stored query as the only target; it is a bare string for a variable
    // created before an attribute was picked.
    const target: StitchVariableQuery | string | undefined = request.targets[0];
    return from(this.datasource.metricFindQuery(target ?? '', { range: request.range })).pipe(
      map((values) => ({ data: values }))
    );
  }
}
