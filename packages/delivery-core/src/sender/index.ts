/**
 * What a tenant may send and what Herald adds to its bulk mail: allowed sender domains
 * (`tenants.<name>.sender_domains`, checked on the envelope sender and the From header) and
 * one-click unsubscribe headers for the streams `tenants.<name>.list_unsubscribe` names, and
 * whether DMARC would fail on Herald's path (`tenants.<name>.refuse_dmarc_fail`), with the DMARC
 * alignment rule the doctor uses too. Pure.
 */
export { aligned, organizationalDomain, SECOND_LEVEL_SUFFIXES } from './alignment.js';
export { type DmarcPath, dmarcProblem } from './dmarc.js';
export { domainOfAddress, fromHeaderAuthors, fromHeaderDomain, senderDomainAllowed } from './domains.js';
export { addListUnsubscribe, type ListUnsubscribePolicy } from './list-unsubscribe.js';
