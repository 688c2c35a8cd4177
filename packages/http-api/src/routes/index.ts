/**
 * Every route of the API. To add an area: write `routes/<area>.ts` exporting a list of
 * `defineRoute(...)` and add it here; the server registers it and the OpenAPI document lists it.
 */
import type { RouteDef } from '../route.js';
import { keyRoutes } from './keys.js';
import { messageRoutes } from './messages.js';
import { metaRoutes } from './meta.js';

export const ROUTES: readonly RouteDef[] = [...metaRoutes, ...messageRoutes, ...keyRoutes];
