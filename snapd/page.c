/*
 * page.c: the status page (GET /) of status.h, rendered from the status
 * document alone, never from the daemon or the catalog: what the page
 * shows is what /api/status says, by construction.
 *
 * One HTML page with its CSS and its charts (SVG) inline: no script, no
 * outside asset, so it reads the same with JavaScript off, behind a
 * proxy that strips scripts, or saved to a file.  Every string that came
 * from outside (cluster and member names, errors, audit details) goes
 * through esc(); the markup around them is this file's own.
 */
#include "snapd/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "common/buf.h"
#include "common/fmt.h"

#define PAGE_MAX (32u << 20)
/* Points drawn per chart line: more than its pixels are wasted bytes. */
#define CHART_DRAWN_MAX 360

/* SVG geometry (viewBox units). */
#define CW 640
#define CH 230
#define PX0 72
#define PX1 624
#define PY0 34
#define PY1 192

static void
esc(struct lb_buf *b, const char *s)
{
	const char *p;

	if (s == NULL)
		return;
	for (p = s; *p != '\0'; p++) {
		switch (*p) {
		case '&': lb_buf_addstr(b, "&amp;"); break;
		case '<': lb_buf_addstr(b, "&lt;"); break;
		case '>': lb_buf_addstr(b, "&gt;"); break;
		case '"': lb_buf_addstr(b, "&quot;"); break;
		case '\'': lb_buf_addstr(b, "&#39;"); break;
		default: lb_buf_add(b, p, 1);
		}
	}
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t
num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static int64_t
parse_time(const char *rfc)
{
	struct lb_err err;
	int64_t t;

	if (rfc == NULL || cat_time_parse(rfc, 0, &t, &err) < 0)
		return -1;
	return t;
}

/* A time from the document as <time>, with how long ago for people. */
static void
when(struct lb_buf *b, const char *rfc, int64_t now, const char *none)
{
	char text[96];
	int64_t t = parse_time(rfc);

	if (t < 0) {
		lb_buf_addf(b, "<span class=\"none\">%s</span>", none);
		return;
	}
	lb_fmt_when(t, now, text, sizeof(text));
	lb_buf_addstr(b, "<time datetime=\"");
	esc(b, rfc);
	lb_buf_addstr(b, "\">");
	esc(b, text);
	lb_buf_addstr(b, "</time>");
}

static void
size(struct lb_buf *b, int64_t bytes)
{
	char s[32];

	if (bytes < 0) {
		lb_buf_addstr(b, "<span class=\"none\">-</span>");
		return;
	}
	lb_fmt_size((uint64_t)bytes, s, sizeof(s));
	lb_buf_addstr(b, s);
}

static const char *
health_mark(const char *state)
{
	if (strcmp(state, "healthy") == 0)
		return "&#10004;";      /* check mark */
	if (strcmp(state, "degraded") == 0)
		return "&#9650;";       /* triangle */
	if (strcmp(state, "failing") == 0)
		return "&#10006;";      /* cross */
	return "?";
}

static void
badge(struct lb_buf *b, const char *word)
{
	const char *w = word != NULL ? word : "unknown";
	const char *cls = strcmp(w, "healthy") == 0 || strcmp(w, "ok") == 0 ||
	    strcmp(w, "complete") == 0 ? "healthy" :
	    strcmp(w, "degraded") == 0 || strcmp(w, "partial") == 0 ||
	    strcmp(w, "running") == 0 ? "degraded" :
	    strcmp(w, "failing") == 0 || strcmp(w, "failed") == 0 ? "failing" : "unknown";

	lb_buf_addf(b, "<span class=\"badge h-%s\"><span aria-hidden=\"true\">%s</span> ",
	    cls, health_mark(strcmp(cls, "healthy") == 0 ? "healthy" : cls));
	esc(b, w);
	lb_buf_addstr(b, "</span>");
}

/* ---- charts ---- */

struct axis {
	double div;        /* value units per shown unit */
	const char *unit;  /* shown unit */
	double step;       /* tick step, shown units */
	double top;        /* axis top, shown units */
};

static double
nice_step(double span)
{
	double raw = span / 4, mag, f;

	if (raw <= 0)
		return 1;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

static void
make_axis(struct axis *a, double max, int bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	a->div = 1;
	if (bytes) {
		while (u < 4 && max / a->div >= 1024) {
			a->div *= 1024;
			u++;
		}
		a->unit = units[u];
	} else if (max >= 600) {
		a->div = 60;
		a->unit = "min";
	} else {
		a->unit = "s";
	}
	a->step = nice_step(max / a->div);
	a->top = a->step * ceil((max / a->div) / a->step);
	if (a->top <= 0)
		a->top = a->step;
}

static void
chart(struct lb_buf *b, const char *cluster, const char *title, const char *what,
    const json_t *at, const json_t *vals, int64_t since, int64_t until, int bytes)
{
	size_t n = json_array_size(at), i, stride, drawn = 0;
	double max = 0, v, x, y, span = (double)(until - since);
	struct axis a;
	char day[16];
	time_t tt;
	struct tm tm;
	int k;

	if (span <= 0)
		span = 1;
	for (i = 0; i < n; i++)
		if ((v = (double)json_integer_value(json_array_get(vals, i))) > max)
			max = v;
	make_axis(&a, max, bytes);
	lb_buf_addstr(b, "<figure class=\"chart\"><svg viewBox=\"0 0 " "640 230\" role=\"img\" "
	    "data-metric=\"");
	esc(b, what);
	lb_buf_addstr(b, "\" aria-label=\"");
	esc(b, title);
	lb_buf_addstr(b, ", ");
	esc(b, cluster);
	lb_buf_addstr(b, "\"><title>");
	esc(b, title);
	lb_buf_addstr(b, ": ");
	esc(b, cluster);
	lb_buf_addf(b, "</title><text class=\"ct\" x=\"%d\" y=\"18\">", PX0);
	esc(b, title);
	lb_buf_addf(b, " (%s)</text>", a.unit);
	/* y axis: ticks, labels, grid */
	for (k = 0; k * a.step <= a.top + 1e-9; k++) {
		y = PY1 - (PY1 - PY0) * (k * a.step) / a.top;
		lb_buf_addf(b, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
		    "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>",
		    PX0, PX1, y, y, PX0 - 6, y + 4, k * a.step);
	}
	lb_buf_addf(b, "<text class=\"tick\" x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" "
	    "text-anchor=\"middle\">%s</text>", (PY0 + PY1) / 2, (PY0 + PY1) / 2, a.unit);
	/* x axis: five dates across the window (UTC) */
	for (k = 0; k <= 4; k++) {
		tt = (time_t)(since + (int64_t)(span * k / 4));
		x = PX0 + (PX1 - PX0) * k / 4.0;
		day[0] = '\0';
		if (gmtime_r(&tt, &tm) != NULL)
			strftime(day, sizeof(day), "%m-%d", &tm);
		lb_buf_addf(b, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\"/>"
		    "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>",
		    x, x, PY1, PY1 + 5, x, PY1 + 18, day);
	}
	lb_buf_addf(b, "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">date (UTC)</text>",
	    PX1, CH - 4);
	lb_buf_addf(b, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
	    "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>",
	    PX0, PX1, PY1, PY1, PX0, PX0, PY0, PY1);
	if (n == 0) {
		lb_buf_addf(b, "<text class=\"nodata\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
		    "no data in the last %d days</text></svg></figure>", (PX0 + PX1) / 2,
		    (PY0 + PY1) / 2, STATUS_CHART_DAYS);
		return;
	}
	stride = (n + CHART_DRAWN_MAX - 1) / CHART_DRAWN_MAX;
	lb_buf_addstr(b, "<polyline class=\"series\" points=\"");
	for (i = 0; i < n; i++) {
		/* every stride-th point, and always the newest */
		if (i % stride != 0 && i != n - 1)
			continue;
		if (!json_is_integer(json_array_get(vals, i)))
			continue;
		x = PX0 + (PX1 - PX0) * (double)(json_integer_value(json_array_get(at, i)) -
		    since) / span;
		v = (double)json_integer_value(json_array_get(vals, i)) / a.div;
		y = PY1 - (PY1 - PY0) * v / a.top;
		lb_buf_addf(b, "%s%.1f,%.1f", drawn ? " " : "", x, y);
		drawn++;
	}
	lb_buf_addf(b, "\" data-points=\"%zu\"/>", drawn);
	if (n <= 60)
		for (i = 0; i < n; i++) {
			if (!json_is_integer(json_array_get(vals, i)))
				continue;
			x = PX0 + (PX1 - PX0) * (double)(json_integer_value(json_array_get(at,
			    i)) - since) / span;
			v = (double)json_integer_value(json_array_get(vals, i)) / a.div;
			lb_buf_addf(b, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>",
			    x, PY1 - (PY1 - PY0) * v / a.top);
		}
	lb_buf_addstr(b, "</svg></figure>");
}

/* ---- page ---- */

static const char css[] =
	"body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"margin:0;color:#1f2328;background:#f6f8fa}"
	"header,main{max-width:1200px;margin:0 auto;padding:12px 16px}"
	"header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline}"
	"h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:22px 0 8px}"
	"h3{font-size:16px;margin:16px 0 6px}"
	".meta{color:#57606a;font-size:13px}"
	"section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;"
	"margin:14px 0}"
	".scroll{overflow-x:auto}"
	"table{border-collapse:collapse;width:100%;font-size:14px}"
	"th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}"
	"th{color:#57606a;font-weight:600}"
	".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;"
	"white-space:nowrap}"
	".h-healthy{color:#116329;background:#dafbe1}.h-degraded{color:#7d4e00;background:#fff8c5}"
	".h-failing{color:#a40e26;background:#ffebe9}.h-unknown{color:#424a53;background:#eaeef2}"
	".reason{font-size:13px;color:#424a53}.err{color:#a40e26;font-size:13px;"
	"overflow-wrap:anywhere}.none{color:#8c959f}"
	".charts{display:grid;grid-template-columns:1fr 1fr;gap:8px}"
	".chart{margin:0}.chart svg{width:100%;height:auto;background:#fff}"
	".ct{font-size:14px;font-weight:600;fill:#1f2328}.tick{font-size:11px;fill:#57606a}"
	".nodata{font-size:13px;fill:#8c959f}"
	".grid{stroke:#eaeef2}.axis{stroke:#8c959f}"
	".series{fill:none;stroke:#0969da;stroke-width:1.6}.pt{fill:#0969da}"
	"code{font-size:12px;overflow-wrap:anywhere}"
	"@media (max-width:700px){.charts{grid-template-columns:1fr}"
	/* the cluster table turns into one card per cluster */
	"#clusters thead{display:none}#clusters tr,#clusters td{display:block}"
	"#clusters tr{border-bottom:2px solid #d0d7de;padding:6px 0}"
	"#clusters td{border:0;padding:2px 4px}#clusters td.name{font-size:17px;font-weight:600}"
	"#clusters td[data-label]::before{content:attr(data-label) \": \";color:#57606a;"
	"font-weight:600}"
	"header{display:block}th,td{padding:4px 5px}}";

/* Point-in-time recovery under the lock (the holder captures): capturing
 * or not, lag, the last revision stored, the newest window, gaps, and the
 * drills' last proof; nothing when pitr is off. */
static void
pitr_cell(struct lb_buf *b, const json_t *p, int64_t now)
{
	const json_t *w = json_object_get(p, "newest_window");
	const char *proof = str(p, "last_proof");

	if (!json_is_object(p))
		return;
	lb_buf_addstr(b, "<div class=\"pitr\">PITR: ");
	if (json_is_true(json_object_get(p, "capturing"))) {
		lb_buf_addf(b, "capturing, lag %.1f s",
		    json_number_value(json_object_get(p, "lag_seconds")));
		/* null until the capture has read the cluster's revision */
		if (num(p, "lag_revisions") >= 0)
			lb_buf_addf(b, " / %lld revisions", (long long)num(p, "lag_revisions"));
	} else
		lb_buf_addstr(b, "not capturing here");
	if (num(p, "last_revision") >= 0) {
		lb_buf_addf(b, "; last revision %lld", (long long)num(p, "last_revision"));
		if (str(p, "last_stored_at") != NULL) {
			lb_buf_addstr(b, " ");
			when(b, str(p, "last_stored_at"), now, "-");
		}
	}
	if (json_is_object(w))
		lb_buf_addf(b, "; window %lld..%lld", (long long)num(w, "from_revision"),
		    (long long)num(w, "to_revision"));
	else
		lb_buf_addstr(b, "; no window yet");
	lb_buf_addf(b, "; %lld gaps", (long long)num(p, "gaps"));
	if (proof != NULL) {
		lb_buf_addstr(b, "; last proof ");
		badge(b, proof);
	}
	lb_buf_addstr(b, "</div>");
}

static void
cluster_row(struct lb_buf *b, const json_t *cl, int64_t now, int64_t dnow)
{
	const json_t *h = json_object_get(cl, "health"), *o;
	const char *name = str(cl, "name");

	lb_buf_addstr(b, "<tr class=\"cluster\" data-cluster=\"");
	esc(b, name);
	lb_buf_addstr(b, "\"><td class=\"name\"><a href=\"#c-");
	esc(b, name);
	lb_buf_addstr(b, "\">");
	esc(b, name);
	lb_buf_addstr(b, "</a></td><td data-label=\"Health\">");
	badge(b, str(h, "state"));
	lb_buf_addstr(b, "<div class=\"reason\">");
	esc(b, str(h, "reason"));
	lb_buf_addstr(b, "</div></td><td data-label=\"Last success\">");
	o = json_object_get(cl, "last_success");
	when(b, str(o, "finished_at"), now, "never");
	lb_buf_addstr(b, "</td><td data-label=\"Last attempt\">");
	o = json_object_get(cl, "last_attempt");
	if (json_is_object(o)) {
		badge(b, str(o, "outcome"));
		lb_buf_addstr(b, " ");
		when(b, str(o, "started_at"), now, "-");
		if (str(o, "error") != NULL) {
			lb_buf_addstr(b, "<div class=\"err\">");
			esc(b, str(o, "error"));
			lb_buf_addstr(b, "</div>");
		}
	} else {
		lb_buf_addstr(b, "<span class=\"none\">none</span>");
	}
	lb_buf_addstr(b, "</td><td data-label=\"Next run\">");
	if (json_is_true(json_object_get(cl, "running")))
		lb_buf_addstr(b, "running now");
	else
		when(b, str(cl, "next_run"), dnow, "not scheduled");
	lb_buf_addstr(b, "</td><td data-label=\"Last verify\">");
	o = json_object_get(cl, "last_verify");
	if (json_is_object(o)) {
		badge(b, str(o, "result"));
		lb_buf_addstr(b, " ");
		when(b, str(o, "at"), now, "-");
	} else {
		lb_buf_addstr(b, "<span class=\"none\">never</span>");
	}
	lb_buf_addstr(b, "</td><td data-label=\"Last drill\">");
	o = json_object_get(cl, "last_drill");
	if (json_is_object(o)) {
		badge(b, str(o, "result"));
		lb_buf_addstr(b, " ");
		when(b, str(o, "at"), now, "-");
		if (json_is_number(json_object_get(o, "rto_seconds")))
			lb_buf_addf(b, "<div>RTO %.1f s</div>",
			    json_number_value(json_object_get(o, "rto_seconds")));
	} else {
		lb_buf_addstr(b, "<span class=\"none\">no drill yet</span>");
	}
	lb_buf_addstr(b, "</td><td data-label=\"Lock\">");
	o = json_object_get(cl, "lock");
	if (str(o, "state") != NULL && strcmp(str(o, "state"), "none") == 0)
		lb_buf_addstr(b, "no lock: runs every slot");
	else
		esc(b, str(o, "state"));
	if (str(o, "state") != NULL && strcmp(str(o, "state"), "standby") == 0) {
		/* the appliance that runs the slots instead of this one */
		lb_buf_addstr(b, ": held by ");
		if (str(o, "holder") != NULL)
			esc(b, str(o, "holder"));
		else
			lb_buf_addstr(b, "another appliance");
	} else if (str(o, "holder") != NULL) {
		lb_buf_addstr(b, ": ");
		esc(b, str(o, "holder"));
	}
	pitr_cell(b, json_object_get(cl, "pitr"), now);
	lb_buf_addstr(b, "</td><td data-label=\"Backups\">");
	o = json_object_get(cl, "counts");
	lb_buf_addf(b, "%lld <span class=\"reason\">in %d days (%lld complete, %lld partial, "
	    "%lld failed)</span></td></tr>", (long long)num(o, "total"), STATUS_CHART_DAYS,
	    (long long)num(o, "complete"), (long long)num(o, "partial"),
	    (long long)num(o, "failed"));
}

static void
cluster_section(struct lb_buf *b, const json_t *cl, int64_t now)
{
	const json_t *ms = json_object_get(cl, "members"), *ch = json_object_get(cl, "charts");
	const char *name = str(cl, "name");
	int64_t since = parse_time(str(ch, "since")), until = parse_time(str(ch, "until"));
	size_t i;

	(void)now;
	lb_buf_addstr(b, "<section class=\"detail\" id=\"c-");
	esc(b, name);
	lb_buf_addstr(b, "\"><h2>");
	esc(b, name);
	lb_buf_addstr(b, " ");
	badge(b, str(json_object_get(cl, "health"), "state"));
	lb_buf_addstr(b, "</h2><h3>Members");
	if (str(cl, "members_of") != NULL) {
		lb_buf_addstr(b, " <span class=\"meta\">in backup <code>");
		esc(b, str(cl, "members_of"));
		lb_buf_addstr(b, "</code></span>");
	}
	lb_buf_addstr(b, "</h3>");
	if (json_array_size(ms) == 0) {
		lb_buf_addstr(b, "<p class=\"none\">no member backed up yet</p>");
	} else {
		lb_buf_addstr(b, "<div class=\"scroll\"><table class=\"members\"><thead><tr>"
		    "<th>Member</th><th>Status</th><th>Revision</th><th>Database</th>"
		    "<th>Endpoint</th></tr></thead><tbody>");
		for (i = 0; i < json_array_size(ms); i++) {
			const json_t *m = json_array_get(ms, i);

			lb_buf_addstr(b, "<tr><td>");
			esc(b, str(m, "name"));
			if (json_is_true(json_object_get(m, "learner")))
				lb_buf_addstr(b, " (learner)");
			lb_buf_addstr(b, "</td><td>");
			badge(b, str(m, "status"));
			lb_buf_addstr(b, "</td><td>");
			if (num(m, "revision") >= 0)
				lb_buf_addf(b, "%lld", (long long)num(m, "revision"));
			else
				lb_buf_addstr(b, "<span class=\"none\">-</span>");
			lb_buf_addstr(b, "</td><td>");
			size(b, num(m, "db_size_bytes"));
			lb_buf_addstr(b, "</td><td><code>");
			esc(b, str(m, "endpoint"));
			lb_buf_addstr(b, "</code></td></tr>");
		}
		lb_buf_addstr(b, "</tbody></table></div>");
	}
	lb_buf_addf(b, "<h3>Last %d days</h3><div class=\"charts\">", STATUS_CHART_DAYS);
	chart(b, name, "Database size per backup", "db_size", json_object_get(ch, "at"),
	    json_object_get(ch, "db_size_bytes"), since, until, 1);
	chart(b, name, "Stored size per backup (all members)", "stored_size",
	    json_object_get(ch, "at"), json_object_get(ch, "stored_size_bytes"), since,
	    until, 1);
	chart(b, name, "Backup duration", "duration", json_object_get(ch, "at"),
	    json_object_get(ch, "duration_seconds"), since, until, 0);
	chart(b, name, "Drill RTO", "drill_rto", json_object_get(ch, "drill_at"),
	    json_object_get(ch, "drill_rto_seconds"), since, until, 0);
	lb_buf_addstr(b, "</div></section>");
}

static void
backups_table(struct lb_buf *b, const json_t *rows, int64_t now)
{
	size_t i;

	lb_buf_addf(b, "<section><h2>Newest %d catalog entries</h2>", STATUS_ROWS);
	if (json_array_size(rows) == 0) {
		lb_buf_addstr(b, "<p class=\"none\">the catalog holds no backup</p></section>");
		return;
	}
	lb_buf_addstr(b, "<div class=\"scroll\"><table id=\"backups\"><thead><tr><th>Backup</th>"
	    "<th>Cluster</th><th>Status</th><th>Started</th><th>Took</th><th>Database</th>"
	    "<th>Stored</th><th>Members</th><th>Verify</th></tr></thead><tbody>");
	for (i = 0; i < json_array_size(rows); i++) {
		const json_t *r = json_array_get(rows, i);

		lb_buf_addstr(b, "<tr><td><code>");
		esc(b, str(r, "id"));
		lb_buf_addstr(b, "</code></td><td>");
		esc(b, str(r, "cluster"));
		lb_buf_addstr(b, "</td><td>");
		badge(b, str(r, "status"));
		if (str(r, "error") != NULL) {
			lb_buf_addstr(b, "<div class=\"err\">");
			esc(b, str(r, "error"));
			lb_buf_addstr(b, "</div>");
		}
		lb_buf_addstr(b, "</td><td>");
		when(b, str(r, "started_at"), now, "-");
		lb_buf_addstr(b, "</td><td>");
		if (num(r, "duration_seconds") >= 0)
			lb_buf_addf(b, "%lld s", (long long)num(r, "duration_seconds"));
		lb_buf_addstr(b, "</td><td>");
		size(b, num(r, "db_size_bytes"));
		lb_buf_addstr(b, "</td><td>");
		size(b, num(r, "stored_size_bytes"));
		lb_buf_addf(b, "</td><td>%lld/%lld</td><td>", (long long)num(r, "members_ok"),
		    (long long)num(r, "members_total"));
		if (str(r, "verify") != NULL)
			badge(b, str(r, "verify"));
		else
			lb_buf_addstr(b, "<span class=\"none\">-</span>");
		lb_buf_addstr(b, "</td></tr>");
	}
	lb_buf_addstr(b, "</tbody></table></div></section>");
}

static void
audit_table(struct lb_buf *b, const json_t *rows, int64_t now)
{
	size_t i;

	lb_buf_addf(b, "<section><h2>Newest %d audit events</h2>", STATUS_ROWS);
	if (json_array_size(rows) == 0) {
		lb_buf_addstr(b, "<p class=\"none\">no audit event</p></section>");
		return;
	}
	lb_buf_addstr(b, "<div class=\"scroll\"><table id=\"audit\"><thead><tr><th>When</th>"
	    "<th>Action</th><th>Cluster</th><th>Backup</th><th>Outcome</th><th>By</th>"
	    "<th>Details</th></tr></thead><tbody>");
	for (i = 0; i < json_array_size(rows); i++) {
		const json_t *r = json_array_get(rows, i);

		lb_buf_addstr(b, "<tr><td>");
		when(b, str(r, "at"), now, "-");
		lb_buf_addstr(b, "</td><td>");
		esc(b, str(r, "action"));
		lb_buf_addstr(b, "</td><td>");
		esc(b, str(r, "cluster"));
		lb_buf_addstr(b, "</td><td><code>");
		esc(b, str(r, "backup_id"));
		lb_buf_addstr(b, "</code></td><td>");
		esc(b, str(r, "outcome"));
		lb_buf_addstr(b, "</td><td>");
		esc(b, str(r, "user"));
		if (str(r, "host") != NULL) {
			lb_buf_addstr(b, "@");
			esc(b, str(r, "host"));
		}
		lb_buf_addstr(b, "</td><td><code>");
		esc(b, str(r, "details"));
		lb_buf_addstr(b, "</code></td></tr>");
	}
	lb_buf_addstr(b, "</tbody></table></div></section>");
}

int
status_render_html(const json_t *doc, char **out, struct lb_err *err)
{
	const json_t *d = json_object_get(doc, "daemon"), *cls = json_object_get(doc, "clusters");
	struct lb_buf b;
	/* catalog times are the wall clock's, the daemon's own (started,
	 * next run) its clock's: equal but under the test clock */
	int64_t now = parse_time(str(d, "wall_now")), dnow = parse_time(str(d, "now"));
	size_t i, bad = 0;

	*out = NULL;
	lb_buf_init(&b, PAGE_MAX);
	for (i = 0; i < json_array_size(cls); i++) {
		const char *s = str(json_object_get(json_array_get(cls, i), "health"), "state");

		bad += s != NULL && strcmp(s, "healthy") != 0;
	}
	lb_buf_addstr(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"30\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    /* no icon to fetch: a browser asks for /favicon.ico otherwise */
	    "<link rel=\"icon\" href=\"data:,\">");
	lb_buf_addf(&b, "<title>%s lifeboat: %zu of %zu clusters healthy</title><style>%s</style>"
	    "</head><body><header><h1>lifeboat status</h1><div class=\"meta\">",
	    bad ? "&#9888;" : "&#10004;", json_array_size(cls) - bad, json_array_size(cls), css);
	lb_buf_addstr(&b, "lifeboat ");
	esc(&b, str(d, "version"));
	lb_buf_addstr(&b, " on ");
	esc(&b, str(d, "owner"));
	lb_buf_addstr(&b, " &middot; started ");
	when(&b, str(d, "started"), dnow, "-");
	lb_buf_addstr(&b, " &middot; now <time datetime=\"");
	esc(&b, str(d, "now"));
	lb_buf_addstr(&b, "\">");
	esc(&b, str(d, "now"));
	lb_buf_addstr(&b, "</time>");
	if (json_number_value(json_object_get(d, "clock_scale")) != 1)
		lb_buf_addf(&b, " &middot; test clock x%g",
		    json_number_value(json_object_get(d, "clock_scale")));
	lb_buf_addstr(&b, " &middot; refreshes every 30 s &middot; "
	    "<a href=\"/api/status\">JSON</a></div></header><main>");
	if (str(d, "catalog_error") != NULL) {
		lb_buf_addstr(&b, "<section class=\"err\" id=\"catalog-error\">catalog: ");
		esc(&b, str(d, "catalog_error"));
		lb_buf_addstr(&b, "</section>");
	}
	lb_buf_addstr(&b, "<section><h2>Clusters</h2><div class=\"scroll\">"
	    "<table id=\"clusters\"><thead><tr><th>Cluster</th><th>Health</th>"
	    "<th>Last success</th><th>Last attempt</th><th>Next run</th><th>Last verify</th>"
	    "<th>Last drill</th><th>Lock</th><th>Backups</th></tr></thead><tbody>");
	for (i = 0; i < json_array_size(cls); i++)
		cluster_row(&b, json_array_get(cls, i), now, dnow);
	lb_buf_addstr(&b, "</tbody></table></div></section>");
	for (i = 0; i < json_array_size(cls); i++)
		cluster_section(&b, json_array_get(cls, i), now);
	backups_table(&b, json_object_get(doc, "backups"), now);
	audit_table(&b, json_object_get(doc, "audit"), now);
	lb_buf_addstr(&b, "</main></body></html>\n");
	if (b.err != 0) {
		lb_buf_free(&b);
		return lb_err_set(err, LB_E_NOMEM, "status page: out of memory");
	}
	*out = lb_buf_take(&b);
	return 0;
}
