package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/jobs"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
	"tiersync/internal/testfactory"
	"tiersync/internal/web"
)

// drifted is a Commerce7 client whose CRM (the fake) has lost the memberships of some of
// our active members (missing_at_crm), and an admin page that reconciles it.
type drifted struct {
	pool      *pgxpool.Pool
	sched     *schedule.Scheduler
	rec       *reconcile.Reconciler
	admin     http.Handler
	client    string
	customers []string // ours, each with an active Gold enrollment the CRM does not have
	emails    []string
}

// newDrifted sets up missing customers (the CRM knows the customer, not the
// membership). Background runs stop with the test, and the test waits for them to
// record how they ended before its database goes.
func newDrifted(t *testing.T, missing int) *drifted {
	t.Helper()
	d := &drifted{pool: dbtest.New(t)}
	store := membership.NewStore(d.pool, nil)
	engine := queue.New(d.pool, nil, queue.Config{Workers: 1}) // no workers: the repairs' rows stay pending
	const tenant = "napa"
	fake, c7URL := c7test.Start(t, c7test.Options{AppID: "c7-app", AppSecret: "c7-key", RateLimit: -1})
	c7, err := commerce7.New(commerce7.Config{BaseURL: c7URL, AppID: "c7-app", Key: "c7-key", Limiter: queue.NewLimiter(d.pool, nil).Low()})
	if err != nil {
		t.Fatal(err)
	}
	d.client = testfactory.Client(t, d.pool, testfactory.ClientOpts{Name: "Napa Cellars", Tenant: tenant})
	gold := testfactory.Tier(t, d.pool, d.client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Ship"})
	opts := make([]testfactory.CustomerOpts, missing)
	for i := range opts {
		email := fmt.Sprintf("member%03d@example.com", i+1)
		crmID := fake.AddCustomer(tenant, c7test.Customer{FirstName: "M", LastName: "N", Emails: []string{email}}).ID
		opts[i] = testfactory.CustomerOpts{Email: email, FirstName: "M", LastName: "N", CRMID: crmID, CurrentTierID: gold}
		d.emails = append(d.emails, email)
	}
	d.customers = testfactory.CustomersWith(t, d.pool, d.client, opts)
	enrollments := make([]testfactory.EnrollmentOpts, missing)
	for i, c := range d.customers {
		enrollments[i] = testfactory.EnrollmentOpts{CustomerID: c, TierID: gold}
	}
	testfactory.Enrollments(t, d.pool, enrollments)
	d.rec = reconcile.New(reconcile.Config{Pool: d.pool, Backoff: time.Millisecond,
		Listers: func(_ context.Context, c reconcile.Client) (crm.Lister, error) {
			return c7.Provider(c.ID, c.Tenant), nil
		}})
	d.sched, err = jobs.Scheduler(jobs.Deps{Pool: d.pool, Store: store, Engine: engine, ExpireBatchSize: 100, Reconciler: d.rec},
		jobs.Specs{Expire: "off", Sync: "off", Reconcile: "off"}, schedule.Options{Runner: "web-reconcile-test"})
	if err != nil {
		t.Fatal(err)
	}
	d.admin, err = web.New(web.Options{Token: token, SecretKey: secretKey, Pool: d.pool, Store: store, Engine: engine,
		Scheduler: d.sched, Reconciler: d.rec, Background: t.Context()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waitForRuns(t, d.pool) })
	return d
}

// waitForRuns waits until no job run is running: a background run must have recorded
// its end before the test's database is dropped.
func waitForRuns(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; <-tick.C {
		var running int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM job_runs WHERE status = 'running'`).Scan(&running); err != nil {
			t.Errorf("running job runs: %v", err)
			return
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d job run(s) still running after 30s", running)
			return
		}
	}
}

// dryRun runs a dry run of the client to its end (in the test, not through the page)
// and returns its job run's id.
func (d *drifted) dryRun(t *testing.T) int64 {
	t.Helper()
	r, err := d.sched.TriggerWith(context.Background(), schedule.JobReconcile,
		jobs.Reconcile(d.rec, reconcile.Options{ClientID: d.client, DryRun: true}))
	if err != nil || r.Status != schedule.StatusSucceeded {
		t.Fatalf("dry run: %+v %v", r, err)
	}
	return r.ID
}

func (d *drifted) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := d.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReconcileRunPage reads a dry run's page with good and bad input: bad input is the
// page's 4xx, never a 500, and it is not repeated unescaped.
func TestReconcileRunPage(t *testing.T) {
	t.Parallel()
	d := newDrifted(t, runPage+1) // a page and one more
	run := d.dryRun(t)
	expire, err := d.sched.Trigger(context.Background(), schedule.JobExpire)
	if err != nil {
		t.Fatal(err)
	}
	session := login(t, d.admin, "192.0.2.1:1")
	base := "/admin/reconcile/" + strconv.FormatInt(run, 10)
	cases := []struct {
		target string
		status int
		want   []string // in the page
		rows   int      // difference rows (-1: not counted)
	}{
		{base, 200, []string{"Napa Cellars", "missing_at_crm</a> 101", fmt.Sprintf("Repair these (%d)", runPage+1), "@example.com</a>",
			`id="next-page"`}, runPage},
		{base + "?client_id=" + d.client + "&kind=missing_at_crm", 200, []string{"Reconcile run #" + strconv.FormatInt(run, 10) + " · Napa Cellars"}, runPage},
		{base + "?kind=wrong_tier", 200, []string{"No differences of this kind."}, 0},
		{base + "?client_id=00000000-0000-4000-8000-000000000000", 200, []string{"This client has no run in this job run."}, 0},
		{"/admin/reconcile/abc", 400, []string{"is not a run number"}, -1},
		{"/admin/reconcile/0", 400, nil, -1},
		{"/admin/reconcile/-3", 400, nil, -1},
		{"/admin/reconcile/99999999999999999999", 400, nil, -1},
		{base + "?kind=bogus", 400, []string{"kind must be one of"}, -1},
		{base + "?client_id=not-a-uuid", 400, nil, -1},
		{base + "?client_id=" + url.QueryEscape("<script>alert(1)</script>"), 400, nil, -1},
		{base + "?after=-1", 400, []string{"after must be"}, -1},
		{base + "?after=" + url.QueryEscape("<b>x"), 400, nil, -1},
		{"/admin/reconcile/" + strconv.FormatInt(run+1000, 10), 404, nil, -1},
		{"/admin/reconcile/" + strconv.FormatInt(expire.ID, 10), 404, nil, -1}, // a run of another job
	}
	for _, c := range cases {
		t.Run(c.target, func(t *testing.T) {
			resp := do(d.admin, "GET", c.target, "", nil, session)
			page := body(t, resp)
			if resp.StatusCode != c.status {
				t.Fatalf("%d, want %d:\n%s", resp.StatusCode, c.status, page)
			}
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("no %q in:\n%s", w, page)
				}
			}
			if strings.Contains(page, "<script>alert") || strings.Contains(page, "<b>x") {
				t.Errorf("the page repeats its input unescaped:\n%s", page)
			}
			if n := strings.Count(page, `<tr class="difference`); c.rows >= 0 && n != c.rows {
				t.Errorf("%d difference rows, want %d", n, c.rows)
			}
		})
	}
	// The next page carries the filter and has the rest.
	first := body(t, do(d.admin, "GET", base+"?kind=missing_at_crm", "", nil, session))
	m := nextLink.FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("no next page link:\n%s", first)
	}
	next := html.UnescapeString(m[1])
	if !strings.Contains(next, "kind=missing_at_crm") || !strings.Contains(next, "after=") {
		t.Fatalf("next page %q", next)
	}
	resp := do(d.admin, "GET", next, "", nil, session)
	rest := body(t, resp)
	if resp.StatusCode != 200 || strings.Count(rest, `<tr class="difference`) != 1 || strings.Contains(rest, `id="next-page"`) {
		t.Fatalf("the second page (%s): %d\n%s", next, resp.StatusCode, rest)
	}
	// The two pages link each of our customers once.
	linked := map[string]int{}
	for _, page := range []string{first, rest} {
		for _, m := range customerLink.FindAllStringSubmatch(page, -1) {
			linked[m[1]]++
		}
	}
	for _, c := range d.customers {
		if linked[c] != 1 {
			t.Errorf("customer %s linked %d times over the two pages", c, linked[c])
		}
	}
}

var customerLink = regexp.MustCompile(`<a href="/admin/customers/([0-9a-f-]{36})">member\d+@example.com</a>`)

// runPage is the run page's page of differences.
const runPage = 100

var nextLink = regexp.MustCompile(`<a href="([^"]+)" id="next-page">`)

// TestReconcileForms posts the reconcile forms in order: refused without a session or
// its CSRF token (as every form), refused with bad input, then "repair these" twice: the
// second is a 409, nothing being left.
func TestReconcileForms(t *testing.T) {
	t.Parallel()
	d := newDrifted(t, 2)
	run := d.dryRun(t)
	session := login(t, d.admin, "192.0.2.1:1")
	csrf := csrfOf(t, d.admin, session)
	start := "/admin/clients/" + d.client + "/reconcile"
	repair := fmt.Sprintf("/admin/reconcile/%d/repair", run)
	cases := []struct {
		name, method, path string
		form               url.Values
		session, csrf      bool
		status             int
		location, want     string
	}{
		{"start without a session", "POST", start, url.Values{"dry_run": {"true"}}, false, false, 401, "", ""},
		{"start without CSRF", "POST", start, url.Values{"dry_run": {"true"}}, true, false, 403, "", ""},
		{"start with a stale CSRF", "POST", start, url.Values{"dry_run": {"true"}, "csrf": {"x"}}, true, false, 403, "", ""},
		{"start on GET", "GET", start, nil, true, false, 405, "", ""},
		{"start with a bad dry_run", "POST", start, url.Values{"dry_run": {"yes"}}, true, true, 400, "", "dry_run must be true or false"},
		{"start a client that is no UUID", "POST", "/admin/clients/napa/reconcile", url.Values{"dry_run": {"true"}}, true, true, 400, "", ""},
		{"start an unknown client", "POST", "/admin/clients/00000000-0000-4000-8000-000000000000/reconcile", url.Values{"dry_run": {"true"}}, true, true, 404, "", ""},
		{"repair without a session", "POST", repair, url.Values{"client_id": {d.client}}, false, false, 401, "", ""},
		{"repair without CSRF", "POST", repair, url.Values{"client_id": {d.client}}, true, false, 403, "", ""},
		{"repair on GET", "GET", repair, nil, true, false, 405, "", ""},
		{"repair a bad run", "POST", "/admin/reconcile/x/repair", url.Values{"client_id": {d.client}}, true, true, 400, "", ""},
		{"repair a bad client", "POST", repair, url.Values{"client_id": {"napa"}}, true, true, 400, "", ""},
		{"repair no client", "POST", repair, url.Values{}, true, true, 400, "", ""},
		{"repair these", "POST", repair, url.Values{"client_id": {d.client}}, true, true, 303,
			fmt.Sprintf("/admin/reconcile/%d?client_id=%s&msg=repaired-these&repaired=2&skipped=0", run, d.client), ""},
		{"repair these again", "POST", repair, url.Values{"client_id": {d.client}}, true, true, 409, "", "no confirmed difference"},
	}
	for _, c := range cases {
		form := url.Values{}
		for k, v := range c.form {
			form[k] = v
		}
		if c.csrf {
			form.Set("csrf", csrf)
		}
		var cookies []*http.Cookie
		if c.session {
			cookies = append(cookies, session)
		}
		if c.form == nil {
			form = nil
		}
		resp := do(d.admin, c.method, c.path, "", form, cookies...)
		page := body(t, resp)
		if resp.StatusCode != c.status || resp.Header.Get("Location") != c.location || !strings.Contains(page, c.want) {
			t.Fatalf("%s: %d Location %q, want %d %q and %q in:\n%s", c.name, resp.StatusCode, resp.Header.Get("Location"),
				c.status, c.location, c.want, page)
		}
		if c.name == "repair these" {
			page := body(t, do(d.admin, "GET", c.location, "", nil, session))
			if !strings.Contains(page, "Repair these: 2 repaired, 0 skipped") || strings.Contains(page, `id="repair-`) {
				t.Fatalf("the run's page after repairing:\n%s", page)
			}
		}
	}
	// Only the test's own dry run; the repair's two adds, at low priority.
	if n := d.count(t, `SELECT count(*) FROM job_runs`); n != 1 {
		t.Fatalf("%d job runs, want the dry run alone", n)
	}
	if n := d.count(t, `SELECT count(*) FROM crm_sync_queue WHERE action_type = 'add_membership' AND status = 'pending' AND priority = $1`,
		queue.PriorityLow); n != 2 {
		t.Fatalf("%d pending low-priority adds, want 2", n)
	}
	// The flash's counts are whole numbers or nothing.
	for target, want := range map[string]string{
		"/admin/clients?msg=repaired-these&repaired=3&skipped=1":                                      "Repair these: 3 repaired, 1 skipped",
		"/admin/clients?msg=repaired-these&repaired=" + url.QueryEscape("all of them") + "&skipped=1": "The confirmed differences were repaired",
		"/admin/clients?msg=repaired-these&repaired=-1&skipped=1":                                     "The confirmed differences were repaired",
	} {
		if page := body(t, do(d.admin, "GET", target, "", nil, session)); !strings.Contains(page, want) || strings.Contains(page, "all of them") {
			t.Errorf("%s: want %q", target, want)
		}
	}
}

// TestCronStartsReconcileInTheBackground: the jobs page's "run now" of
// reconcile-memberships answers at once, its run still under way; the run page follows it.
func TestCronStartsReconcileInTheBackground(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	store := membership.NewStore(pool, nil)
	engine := queue.New(pool, nil, queue.Config{Workers: 1})
	testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa Cellars"})
	// The CRM's reader is held until the test lets it go: a run inside the request would
	// hold the request with it.
	entered, release := make(chan struct{}, 1), make(chan struct{})
	rec := reconcile.New(reconcile.Config{Pool: pool, Listers: func(ctx context.Context, _ reconcile.Client) (crm.Lister, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("the test's CRM is closed")
	}})
	sched, err := jobs.Scheduler(jobs.Deps{Pool: pool, Store: store, Engine: engine, Reconciler: rec},
		jobs.Specs{Expire: "off", Sync: "off", Reconcile: "off"}, schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := web.New(web.Options{Token: token, SecretKey: secretKey, Pool: pool, Store: store, Engine: engine, Scheduler: sched,
		Reconciler: rec, Background: t.Context()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { waitForRuns(t, pool) })
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	session := login(t, admin, "192.0.2.1:1")
	form := url.Values{"csrf": {csrfOf(t, admin, session)}, "job": {schedule.JobReconcile}}
	answered := make(chan *http.Response, 1)
	go func() { answered <- do(admin, "POST", "/admin/cron/run", "", form, session) }()
	var resp *http.Response
	select {
	case resp = <-answered:
	case <-time.After(20 * time.Second):
		t.Fatal("POST /admin/cron/run of reconcile-memberships did not answer while the run was under way")
	}
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/cron?msg=job-started" {
		t.Fatalf("run now: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the run never read the CRM")
	}
	var id int64
	var trigger, status string
	if err := pool.QueryRow(context.Background(), `SELECT id, trigger, status FROM job_runs WHERE job_name = $1`, schedule.JobReconcile).
		Scan(&id, &trigger, &status); err != nil || trigger != "manual" || status != schedule.StatusRunning {
		t.Fatalf("the reconcile run: %s %s (%v)", trigger, status, err)
	}
	page := body(t, do(admin, "GET", "/admin/cron?msg=job-started", "", nil, session))
	if !strings.Contains(page, "The job was started") || !strings.Contains(page, fmt.Sprintf(`href="/admin/reconcile/%d"`, id)) {
		t.Fatalf("the jobs page:\n%s", page)
	}
	if page := body(t, do(admin, "GET", fmt.Sprintf("/admin/reconcile/%d", id), "", nil, session)); !strings.Contains(page, "under way: reload to follow it") {
		t.Fatalf("the run's page while it runs:\n%s", page)
	}
	close(release)
	waitForRuns(t, pool)
}

// TestReconcileNeedsAReconciler: without one, the clients page shows no Reconciliation
// and its forms' addresses are not there.
func TestReconcileNeedsAReconciler(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	h := newAdmin(t, web.Options{Pool: pool})
	client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa Cellars"})
	session := login(t, h, "192.0.2.1:1")
	if page := body(t, do(h, "GET", "/admin/clients", "", nil, session)); !strings.Contains(page, "Napa Cellars") || strings.Contains(page, "Reconciliation") {
		t.Fatalf("clients page without a reconciler:\n%s", page)
	}
	form := url.Values{"csrf": {csrfOf(t, h, session)}, "dry_run": {"true"}}
	for _, c := range []struct{ method, path string }{{"POST", "/admin/clients/" + client + "/reconcile"}, {"GET", "/admin/reconcile/1"}} {
		if resp := do(h, c.method, c.path, "", form, session); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", c.method, c.path, resp.StatusCode)
		}
	}
}

// TestReconcileInABrowser is an operator's round: a dry run from the clients page, its
// differences on the run's page, and "repair these". Not parallel, as the other browser
// test (the artifacts directory, a small machine's waits).
func TestReconcileInABrowser(t *testing.T) {
	exe := chromium(t)
	d := newDrifted(t, 2)
	srv := httptest.NewServer(d.admin)
	defer srv.Close()
	b := newBrowser(t, exe)
	cell := "#reconcile-" + d.client

	b.run("log in", chromedp.Navigate(srv.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Submit(chromedp.CSS("#login")),
		b.at("/admin/clients"), chromedp.WaitVisible(chromedp.CSS(cell)))
	if got := b.text(cell + " .rec-latest"); got != "Never reconciled with its CRM." {
		t.Fatalf("before any run the cell says %q", got)
	}
	b.run("dry run", chromedp.Click(chromedp.CSS("#dry-run-"+d.client)), b.at("msg=dry-run-started"),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := b.text("#flash"); !strings.HasPrefix(got, "Dry run started") {
		t.Fatalf("after Dry run the flash says %q", got)
	}
	// The run goes on in the background: reload the page until the cell says it is done.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(60 * time.Second); ; <-tick.C {
		status, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](
			fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, cell+" .rec-status")))
		if status == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dry run is not done after a minute: the cell says %q", status)
		}
		b.run("reload the clients", chromedp.Navigate(srv.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.CSS(cell)))
	}
	b.run("clients screenshot", chromedp.ScrollIntoView(chromedp.CSS(cell)), b.shot("reconcile-clients"))
	if kind, diffs := b.text(cell+" .rec-kind"), b.text(cell+" .rec-differences"); kind != "dry run" || diffs != "2 difference(s), 2 not repaired" {
		t.Fatalf("the cell: %q, %q", kind, diffs)
	}

	b.run("open the run", chromedp.Click(chromedp.CSS(cell+" a.rec-link")), b.at("/admin/reconcile/"),
		chromedp.WaitVisible(chromedp.CSS("#differences")), b.shot("reconcile-run"))
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#differences tbody tr")].map(r => r.querySelector(".d-kind").textContent + " " + r.querySelector(".d-customer").textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows) // in the order found
	if want := []string{"missing_at_crm " + d.emails[0], "missing_at_crm " + d.emails[1]}; strings.Join(rows, "|") != strings.Join(want, "|") {
		t.Fatalf("differences %q, want %q", rows, want)
	}
	if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('#differences a[href="/admin/customers/%s"]').length`, d.customers[0]))); err != nil || n != 1 {
		t.Fatalf("links to the first customer: %d (%v)", n, err)
	}
	if got := b.text("#repair-" + d.client); got != "Repair these (2)" {
		t.Fatalf("the repair button says %q", got)
	}

	b.run("repair these", chromedp.Click(chromedp.CSS("#repair-"+d.client)), b.at("msg=repaired-these"),
		chromedp.WaitVisible(chromedp.CSS("#flash")), b.shot("reconcile-repaired"))
	if got := b.text("#flash"); !strings.Contains(got, "2 repaired, 0 skipped") {
		t.Fatalf("after repair these the flash says %q", got)
	}
	if statuses, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll("#differences .d-status")].map(e => e.innerText.split(/\s/)[0]).join(",") + (document.getElementById("repair-`+d.client+`") ? " and a button" : "")`)); err != nil || statuses != "repaired,repaired" {
		t.Fatalf("after repairing, the differences are %q (%v)", statuses, err)
	}
	if n := d.count(t, `SELECT count(*) FROM crm_sync_queue WHERE action_type = 'add_membership' AND status = 'pending' AND priority = $1`,
		queue.PriorityLow); n != 2 {
		t.Fatalf("%d pending add_membership rows at low priority, want 2", n)
	}
}

// browser is a Chromium for one test, with the waits the admin page's tests need.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900))...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first call starts the browser and must not carry a timeout (it would stop the
	// browser); the steps after it do.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return &browser{t: t, ctx: ctx, shots: artifacts(t)}
}

func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

// settled waits until the page has loaded and has a layout (a screenshot of a page mid
// navigation fails).
func settled(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Evaluate[bool](`document.readyState === "complete" && document.documentElement.clientWidth > 0`)(ctx, target)
		if err == nil && ok {
			return chromedp.Void{}, nil
		}
		select {
		case <-ctx.Done():
			return chromedp.Void{}, fmt.Errorf("the page did not settle: %w (last: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// at waits until the browser is at a URL containing part: an element of the page before
// a navigation may be on the page after it too.
func (b *browser) at(part string) chromedp.Action[chromedp.Void] { return at(part) }

// at waits until the browser is at a URL containing part, and the page has settled.
func at(part string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			href, err := chromedp.Evaluate[string](`location.href`)(ctx, target)
			if err == nil && strings.Contains(href, part) {
				return settled(ctx, target)
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("not at %q: %w (at %q)", part, ctx.Err(), href)
			case <-tick.C:
			}
		}
	}
}

func (b *browser) shot(name string) chromedp.Action[chromedp.Void] { return shotTo(b.shots, name) }

// shotTo saves a screenshot of the settled page as dir/name.png.
func shotTo(dir, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		if _, err := settled(ctx, target); err != nil {
			return chromedp.Void{}, err
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, target) // quality 100: PNG
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	}
}
