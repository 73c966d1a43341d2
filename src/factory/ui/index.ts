/** The factory's web UI wizard (route module, backend contract, result-page link list). */
export { uiRoutes } from "./routes.js";
export type { UiBackend } from "./backend.js";
export { finalContent, type AssetLink, type FinalContent, type FinalInput } from "./final-content.js";
export { BOARDS, boardsFor, type Board } from "./boards.js";
