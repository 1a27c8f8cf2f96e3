// live_dashboard.mjs - drives headless Chromium through the DevTools
// protocol (CDP over Node's own WebSocket: no npm package) for
// tests/web/live_dashboard.sh. It asserts nothing: it prints what it saw,
// and the shell test checks it.
//
//   node --experimental-websocket live_dashboard.mjs live CHROMIUM \
//       PROFILE_DIR URL GOLD NEW_GOLD BRANCH
// opens URL, reads BRANCH's orders received, marks the page's window,
// replaces GOLD by NEW_GOLD with a rename (as serving replaces it) and
// waits (bounded) for the open page to show a new number; prints one
// JSON object.
//
//   node --experimental-websocket live_dashboard.mjs noscript CHROMIUM \
//       PROFILE_DIR URL
// loads URL with script execution disabled and prints its DOM as HTML
// (read through the DOM domain, which needs no script in the page).
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

const [mode, chromiumPath, profile, url, gold, newGold, branch] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn every 100 ms until it returns a truthy value or timeoutMs
// passes; returns the last value.
async function until(fn, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	let v;
	for (;;) {
		v = await fn();
		if (v || Date.now() >= deadline)
			return v;
		await sleep(100);
	}
}

const chrome = spawn(chromiumPath, ['--headless=new', '--no-sandbox',
	'--disable-gpu', '--no-first-run', '--disable-extensions',
	'--proxy-server=127.0.0.1:9', '--proxy-bypass-list=127.0.0.1',
	`--user-data-dir=${profile}`, '--remote-debugging-port=0',
	'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
writeFileSync(`${profile}.pid`, `${chrome.pid}\n`);
let chromeLog = '';
chrome.stderr.on('data', (d) => { chromeLog += d; });
const stop = () => { try { chrome.kill('SIGKILL'); } catch { /* gone */ } };
process.on('exit', stop);
process.on('SIGTERM', () => process.exit(1));

function fail(why) {
	process.stderr.write(`live_dashboard: ${why}\n${chromeLog.slice(-2000)}\n`);
	process.exit(1);
}

// Chromium writes its port to DevToolsActivePort once it listens.
const port = await until(() => {
	try {
		return readFileSync(`${profile}/DevToolsActivePort`, 'utf8').split('\n')[0];
	} catch {
		return null;
	}
}, 30000);
if (!port)
	fail('Chromium did not open its DevTools port within 30 s');
const targets = await until(async () => {
	try {
		const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
		return list.find((t) => t.type === 'page');
	} catch {
		return null;
	}
}, 10000);
if (!targets)
	fail('Chromium has no page target');

const ws = new WebSocket(targets.webSocketDebuggerUrl);
await new Promise((ok, ko) => { ws.onopen = ok; ws.onerror = () => ko(new Error('CDP connection failed')); });
let nextId = 1;
const pending = new Map();
let loads = 0;
ws.onmessage = (m) => {
	const msg = JSON.parse(m.data);
	if (msg.id && pending.has(msg.id)) {
		const { ok, ko } = pending.get(msg.id);
		pending.delete(msg.id);
		if (msg.error)
			ko(new Error(JSON.stringify(msg.error)));
		else
			ok(msg.result);
	} else if (msg.method === 'Page.loadEventFired') {
		loads++;
	}
};
const cdp = (method, params = {}) => new Promise((ok, ko) => {
	const id = nextId++;
	pending.set(id, { ok, ko });
	ws.send(JSON.stringify({ id, method, params }));
});
// null while the page is between documents (its context is gone).
const evaluate = async (expr) => {
	try {
		const r = await cdp('Runtime.evaluate', { expression: expr, returnByValue: true });
		return r.result.value ?? null;
	} catch {
		return null;
	}
};

await cdp('Page.enable');
if (mode === 'noscript') {
	await cdp('Emulation.setScriptExecutionDisabled', { value: true });
	await cdp('Page.navigate', { url });
	if (!await until(() => loads > 0, 20000))
		fail(`${url} did not load within 20 s`);
	const doc = await cdp('DOM.getDocument', { depth: -1 });
	const html = await cdp('DOM.getOuterHTML', { nodeId: doc.root.nodeId });
	process.stdout.write(`${html.outerHTML}\n`);
	ws.close();
	process.exit(0);
}
await cdp('Page.navigate', { url });
const sel = JSON.stringify(`#orders-chart rect[data-branch="${branch}"]`);
const orders = `(function(){var r=document.querySelector(${sel});` +
	'return r?r.getAttribute("data-value"):null;})()';
const live = '(function(){var e=document.getElementById("live");' +
	'return e?e.textContent:null;})()';
const seen = {};
seen.before = await until(() => evaluate(orders), 20000);
// The script's first poll has answered once the status line says so.
seen.live = await until(async () => {
	const t = await evaluate(live);
	return t && t.startsWith('live') ? t : null;
}, 20000);
seen.loads_before = loads;
await evaluate('window.__marker = 1');
copyFileSync(newGold, `${gold}.tmp`);
renameSync(`${gold}.tmp`, gold);
seen.after = await until(async () => {
	const v = await evaluate(orders);
	return v !== seen.before ? v : null;
}, 20000) ?? seen.before;
seen.marker = await evaluate('window.__marker === undefined ? null : window.__marker');
seen.loads_after = loads;
seen.busiest = await evaluate('(function(){var e=document.getElementById("busiest");' +
	'return e?e.textContent:null;})()');
seen.rows = await evaluate('document.querySelectorAll("#metrics tr").length');
process.stdout.write(`${JSON.stringify(seen)}\n`);
ws.close();
process.exit(0);
