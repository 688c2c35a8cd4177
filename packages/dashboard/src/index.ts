/**
 * @herald/dashboard — the web dashboard: `createDashboardHandler()` serves the built bundle
 * (dist/ui, from ui/ by `npm run build`) at `/ui/`; `DASHBOARD_ROUTES` are the HTTP API routes its
 * pages call, which the relay mounts on the same listener.
 */
export { DASHBOARD_ROUTES, type DashboardRoute } from './routes.js';
export {
  ACCESS_FILE,
  BUNDLE_DIR,
  CONTENT_SECURITY_POLICY,
  createDashboardHandler,
  type DashboardHandler,
  type DashboardOptions,
  UI_PATH,
} from './serve.js';
