// Which lab cases run: the default `npm test` boots every kernel line and architecture that captures once through
// the whole pipeline; `npm run test:matrix` (KDUMP_MATRIX=1) adds the rest of each issue's Done-when cases.

/** True under `npm run test:matrix`: run the whole lab matrix, not just the default cases. */
export const MATRIX = process.env.KDUMP_MATRIX === "1";
