/**
 * Every route of the API. To add an area: write `routes/<area>.ts` exporting a list of
 * `defineRoute(...)` and add it here; the server registers it and the OpenAPI document lists it.
 */
import type { RouteDef } from '../route.js';
import { accountRoutes } from './accounts.js';
import { activityRoutes } from './activity.js';
import { eventRoutes } from './events.js';
import { keyRoutes } from './keys.js';
import { messageStoryRoutes } from './message-story.js';
import { messageRoutes } from './messages.js';
import { metaRoutes } from './meta.js';
import { quarantineRoutes } from './quarantine.js';
import { queueRoutes } from './queue.js';
import { siteRoutes } from './sites.js';
import { suppressionRoutes } from './suppressions.js';
import { tenantRoutes } from './tenants.js';
import { webhookRoutes } from './webhooks.js';

export const ROUTES: readonly RouteDef[] = [
  ...metaRoutes,
  ...messageRoutes,
  ...messageStoryRoutes,
  ...eventRoutes,
  ...activityRoutes,
  ...suppressionRoutes,
  ...tenantRoutes,
  ...siteRoutes,
  ...queueRoutes,
  ...quarantineRoutes,
  ...accountRoutes,
  ...webhookRoutes,
  ...keyRoutes,
];
