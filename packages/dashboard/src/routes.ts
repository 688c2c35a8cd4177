/**
 * The HTTP API routes the dashboard's pages call, mounted same-origin on the relay's
 * `http.listen` (so the page needs no CORS and no second origin). Only these: a page that needs
 * another route adds it here, and the relay's mount serves it.
 */
export interface DashboardRoute {
  method: 'GET' | 'POST';
  /** As declared in @herald/http-api (`:param` for a path segment). */
  url: string;
}

export const DASHBOARD_ROUTES: readonly DashboardRoute[] = [
  { method: 'GET', url: '/v1/activity' },
  { method: 'GET', url: '/v1/activity/messages' },
  { method: 'GET', url: '/v1/sites' },
  { method: 'POST', url: '/v1/sites/:site/suspend' },
  { method: 'POST', url: '/v1/sites/:site/resume' },
  { method: 'GET', url: '/v1/tenants' },
  { method: 'POST', url: '/v1/tenants/:tenant/resume' },
  { method: 'GET', url: '/v1/messages/:id' },
];
