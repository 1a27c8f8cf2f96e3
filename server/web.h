/*
 * web.h - the server's pages for people and BI tools: the dashboard at
 * /dashboard, and at / for browsers (an API client asking / still gets
 * Spark's ErrorResponse) ("Branches performance", charts drawn as SVG on
 * the server, so they
 * need no network; live: its script polls /api/gold and swaps in
 * /dashboard/content, the same rendering of gold alone, when gold
 * changes), the operations page at /ui (submissions and the
 * orchestrator's pipeline runs, read through orchestrator/history.h,
 * refreshing itself), and /api/gold, gold as JSON with ETag and
 * Last-Modified so polling is cheap. Gold is checked against
 * schemas/json/branch_metrics.schema.json before either view uses it.
 */
#ifndef SERVER_WEB_H
#define SERVER_WEB_H

#include "server.h"

/* Handles /, /dashboard, /dashboard/content, /ui and /api/gold; returns
 * 0 for other paths. */
int web_handle(server *s, const api_request *req, api_response *resp);
/* 1 for the read-only views of gold: the dashboard, its content and
 * /api/gold. */
int web_is_dashboard(const api_request *req);

#endif
