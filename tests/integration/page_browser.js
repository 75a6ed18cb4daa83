// page_browser.js: loads the status page in headless Chromium (Debian's,
// driven by playwright-core) for page_test.sh.
//
//   node page_browser.js URL SCREENSHOT.png PROFILE-DIR CLUSTERS [quick]
//
// Prints one JSON object: what the rendered DOM holds (cluster rows,
// their health and its reason, their point-in-time recovery block,
// chart lines and their points, error text, scripts, outside assets),
// whether the text with JavaScript off equals the text with it on, and
// the page's own errors.  Asserts nothing itself: the shell test does.
// quick: one load only (no JavaScript-off or phone-width runs), for
// tests that look at a cluster row as the daemon's state changes.
'use strict';
const path = require('path');
const { chromium } = require(path.join(__dirname, '..', 'node_modules', 'playwright-core'));

const [url, shot, profile, clusters, mode] = process.argv.slice(2);
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
	'--no-first-run', '--disable-background-networking', '--disable-component-update',
	'--disable-sync'];

// body: when given, the page is served this body instead of the
// server's (the same document for both runs of the JavaScript check: the
// daemon's page moves on between two loads).
async function load(js, width, body) {
	const ctx = await chromium.launchPersistentContext(profile + (js ? '-js' : '-nojs'), {
		executablePath: '/usr/bin/chromium', headless: true, args,
		javaScriptEnabled: js, viewport: { width, height: 900 },
	});
	const errors = [];
	const requests = [];
	const page = ctx.pages()[0] || await ctx.newPage();
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
	page.on('request', (r) => requests.push(r.url()));
	if (body !== undefined)
		await page.route('**/*', (route) => route.fulfill({ status: 200,
			contentType: 'text/html; charset=utf-8', body }));
	const resp = await page.goto(url, { waitUntil: 'load' });
	return { ctx, page, errors, requests, status: resp.status(),
		type: resp.headers()['content-type'], body: await resp.body() };
}

(async () => {
	const out = {};
	const on = await load(true, 1280);
	const p = on.page;
	out.status = on.status;
	out.content_type = on.type;
	out.title = await p.title();
	out.cluster_rows = await p.$$eval('#clusters tbody tr.cluster',
		(rows) => rows.map((r) => r.getAttribute('data-cluster')));
	out.health = await p.$$eval('#clusters tbody tr.cluster td:nth-child(2) .badge',
		(b) => b.map((x) => x.textContent.trim()));
	out.reasons = await p.$$eval('#clusters tbody tr.cluster td:nth-child(2) .reason',
		(r) => r.map((x) => x.textContent.trim()));
	// the PITR block of each row (null when pitr is off): its text, and
	// the last proof's badge word (the mark before it is aria-hidden) and class
	out.pitr = await p.$$eval('#clusters tbody tr.cluster', (rows) => rows.map((r) => {
		const d = r.querySelector('.pitr');
		if (d === null)
			return null;
		const b = d.querySelector('.badge');
		const mark = b === null ? null : b.querySelector('[aria-hidden]');
		return { text: d.textContent.replace(/\s+/g, ' ').trim(),
			proof: b === null ? null : b.textContent.replace(mark ? mark.textContent : '',
				'').trim(),
			proof_class: b === null ? null : [...b.classList].find((c) => c.startsWith('h-')) };
	}));
	out.charts = await p.$$eval('figure.chart svg', (svgs) => svgs.map((s) => ({
		metric: s.getAttribute('data-metric'),
		title: (s.querySelector('title') || {}).textContent,
		points: Number((s.querySelector('polyline.series') || { getAttribute: () => 0 })
			.getAttribute('data-points')),
		ticks: s.querySelectorAll('text.tick').length,
		box: s.getBoundingClientRect().width,
	})));
	out.scripts = await p.$$eval('script', (s) => s.length);
	out.outside = await p.$$eval('[src],[href]', (els) => els.map((e) =>
		e.getAttribute('src') || e.getAttribute('href')).filter((u) => /^(https?:)?\/\//.test(u)));
	out.error_text = await p.$$eval('.err', (e) => e.map((x) => x.textContent));
	out.requests = on.requests;
	await p.screenshot({ path: shot, fullPage: true });
	// the first screen: the README's picture (docs/status-page.png)
	if (mode !== 'quick')
		await p.screenshot({ path: shot.replace(/\.png$/, '-top.png'),
			fullPage: false });
	const textOn = await p.evaluate(() => document.body.innerText);
	out.page_errors = on.errors;
	await on.ctx.close();
	out.want_clusters = clusters.split(',');
	if (mode === 'quick') {
		console.log(JSON.stringify(out));
		return;
	}

	// the same document with JavaScript off, and the page on a phone's width
	const off = await load(false, 1280, on.body);
	const textOff = await off.page.evaluate(() => document.body.innerText).catch(() => null);
	// evaluate needs JS in the page's world: read the text over CDP instead
	out.nojs_text_equal = textOff === null ?
		(await off.page.innerText('body')) === textOn : textOff === textOn;
	await off.ctx.close();
	const phone = await load(true, 390);
	out.phone_overflow = await phone.page.evaluate(() =>
		document.documentElement.scrollWidth - window.innerWidth);
	out.phone_chart_columns = await phone.page.$$eval('.charts', (c) => c.length === 0 ? 0 :
		getComputedStyle(c[0]).gridTemplateColumns.split(' ').length);
	await phone.page.screenshot({ path: shot.replace(/\.png$/, '-phone.png'), fullPage: false });
	await phone.ctx.close();
	console.log(JSON.stringify(out));
})().catch((e) => { console.log(JSON.stringify({ fatal: String(e) })); process.exit(1); });
