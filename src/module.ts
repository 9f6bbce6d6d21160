import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import { StitchJsonData, StitchQuery, StitchSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, StitchQuery, StitchJsonData, StitchSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
