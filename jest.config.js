// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

// Jest configuration provided by Grafana scaffolding
const base = require('./.config/jest.config');

const swcTransform = base.transform['^.+\\.(t|j)sx?$'];

module.exports = {
  ...base,
  transform: {
    ...base.transform,
    // d3-color (a dependency of @grafana/data) ships its ES module build as `dist/*.mjs`, which the
    // scaffolded transform pattern (.js/.jsx/.ts/.tsx) does not cover. Run .mjs through the same SWC transform.
    '^.+\\.mjs$': swcTransform,
  },
};
