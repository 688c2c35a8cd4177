/**
 * What a tenant may send and what Herald adds to its bulk mail: allowed sender domains
 * (`tenants.<name>.sender_domains`, checked on the envelope sender and the From header) and
 * one-click unsubscribe headers for the streams `tenants.<name>.list_unsubscribe` names. Pure.
 */
export { domainOfAddress, fromHeaderDomain, senderDomainAllowed } from './domains.js';
export { addListUnsubscribe, type ListUnsubscribePolicy } from './list-unsubscribe.js';
