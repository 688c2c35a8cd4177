/**
 * Explain: where mail for a domain goes and under which limits, as a relay with this config
 * decides now (`herald.explain`, read by `herald shaping explain`) — the static route or the MX
 * hosts, the site they roll up to, the source pool and IP, every effective limit with the layer
 * that set it, and the path's live shaping state. Plain data; reads only.
 */
export {
  createExplainer,
  type DeliveryExplanation,
  type ExplainedSource,
  type Explainer,
  type ExplainerParts,
  type ExplainOptions,
} from './explain.js';
