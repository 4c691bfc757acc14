package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/devdb"
	"tiersync/internal/jobs"
	"tiersync/internal/membership"
	"tiersync/internal/privacy"
	"tiersync/internal/queue"
	"tiersync/internal/schedule"
	"tiersync/internal/secretbox"
	"tiersync/internal/shopifyapp"
	"tiersync/internal/syncer"
	"tiersync/internal/testfactory"
	"tiersync/internal/web"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const token = "admin-test-token-0123456789"

// secretKey stands for TIERSYNC_SECRET_KEY.
var secretKey = []byte("secret-key-for-the-web-tests-012")

var chromiumOnce sync.Once

// chromium finds Debian's Chromium, installing the package when it is missing and this
// process may (root with apt-get): CI must run the browser tests, not skip them.
func chromium(t *testing.T) string {
	t.Helper()
	chromiumOnce.Do(func() {
		if _, err := exec.LookPath("chromium"); err == nil || os.Geteuid() != 0 {
			return
		}
		if _, err := exec.LookPath("apt-get"); err != nil {
			return
		}
		t.Log("installing Debian's chromium package for the browser tests")
		if err := devdb.InstallPackage(context.Background(), "chromium"); err != nil {
			t.Log(err)
		}
	})
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install Debian's chromium package (apt-get install chromium) to run the admin page's browser tests")
	return ""
}

// artifacts is where the screenshots go: artifacts/screenshots at the repository root
// (ignored by git), or $TIERSYNC_ARTIFACTS.
func artifacts(t *testing.T) string {
	dir := os.Getenv("TIERSYNC_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAdminPageInABrowser is not parallel: it writes the shared artifacts directory, and
// a browser beside other tests on a small machine makes its waits the flaky part.
func TestAdminPageInABrowser(t *testing.T) {
	exe := chromium(t)
	pool := dbtest.New(t)
	ctx := context.Background()
	store := membership.NewStore(pool, nil)
	engine := queue.New(pool, func(context.Context, queue.Job) error { return nil }, queue.Config{Workers: 1})
	sched, err := jobs.Scheduler(jobs.Deps{Pool: pool, Store: store, Engine: engine, ExpireBatchSize: 100, QueueRetention: time.Hour},
		jobs.Specs{Expire: "0 2 * * *", Sync: "off", Reconcile: "off"}, schedule.Options{Runner: "browser-test"})
	if err != nil {
		t.Fatal(err)
	}
	// The dashboard reloads itself every second: the walk through the pages reads the
	// dashboard before it reloads, and the last step watches a reload bring a new count.
	// The check button reads the CRMs over HTTP: a fake Commerce7 that knows Napa's tenant,
	// and a fake Shopify where Vino's own app is installed but the client was given a
	// secret Shopify refuses, so its check leaves its connection refresh_failing.
	c7Fake, c7URL := c7test.Start(t, c7test.Options{AppID: "c7-app", AppSecret: "c7-key", Tenants: []string{"napa"}, RateLimit: -1})
	shopFake, shopURL := shopifytest.Start(t, shopifytest.Options{})
	shopFake.AddApp(shopifytest.App{ClientID: "vino-app", ClientSecret: "vino-app-secret", Org: true})
	shopFake.Install("vino.myshopify.com", "vino-app")
	limiter := queue.NewLimiter(pool, nil)
	c7, err := commerce7.New(commerce7.Config{BaseURL: c7URL, AppID: "c7-app", Key: "c7-key", Limiter: limiter})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := shopify.New(shopify.Config{BaseURL: shopURL, Limiter: limiter})
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(secretKey)
	if err != nil {
		t.Fatal(err)
	}
	shops := shopifyapp.New(shopifyapp.Config{Pool: pool, Box: box, Grants: sh})
	check := func(ctx context.Context, c membership.Client) error { // as app.Core.CheckClient
		if c.CRMType == membership.CRMShopify {
			return sh.ProviderWith(c.ID, c.Tenant, shops.Tokens(c.ID)).Check(ctx)
		}
		return c7.Provider(c.ID, c.Tenant).Check(ctx)
	}
	admin, err := web.New(web.Options{Token: token, SecretKey: secretKey, CookieSecure: true, Pool: pool, Store: store, Engine: engine,
		Scheduler: sched, RefreshEvery: time.Second, Connections: shops, Check: check, Privacy: privacy.New(pool, store, nil),
		EnrollWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin)
	defer srv.Close()

	client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: "Napa Cellars", Tenant: "napa", RateLimitPerMinute: 100})
	auth, appID, wrongSecret := shopifyapp.AuthClientCredentials, "vino-app", "not-vino-app-secret"
	vino, err := store.CreateClient(ctx, membership.NewClient{Name: "Vino", CRMType: membership.CRMShopify, Tenant: "vino.myshopify.com",
		Connect: func(ctx context.Context, tx pgx.Tx, id string) error {
			return shops.Create(ctx, tx, id, "vino.myshopify.com", shopifyapp.NewConnection{Auth: &auth, ClientID: &appID, ClientSecret: &wrongSecret})
		}})
	if err != nil {
		t.Fatal(err)
	}
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold"})
	// Silver is the tier the walk enrolls a member in from the form: a Ship tier (so the
	// form needs an address), with a club the fake Commerce7 has.
	const silverClub = "0b5f8a4e-6c1d-4f2a-9e3b-7d8c9a0b1c2d"
	c7Fake.AddClub("napa", silverClub)
	silver := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Silver", C7ClubID: silverClub, C7DeliveryMethod: "Ship",
		MinPurchaseCents: 5000, MinLTVCents: 125000})
	members := make([]testfactory.CustomerOpts, 4)
	for i := range members {
		members[i] = testfactory.CustomerOpts{Email: fmt.Sprintf("m%d@example.com", i+1), FirstName: "M", LastName: "N"}
	}
	m := testfactory.CustomersWith(t, pool, client, members)
	queued := testfactory.QueueRows(t, pool, []testfactory.QueueRowOpts{
		{CustomerID: m[0], TierID: tier},
		{CustomerID: m[1], TierID: tier, Attempts: 1, ErrorMessage: "commerce7: HTTP 503"},
		{CustomerID: m[2], TierID: tier, Status: "failed", Attempts: 5, ErrorMessage: "commerce7: create club membership: HTTP 422: Club not found"},
		{CustomerID: m[3], TierID: tier, Status: "completed", Attempts: 1},
	})
	failedID := queued[2]

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	// The first call starts the browser and must not carry a timeout (it would stop the
	// browser); the steps after it do.
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	browser, cancelTimeout := context.WithTimeout(browser, 4*time.Minute) // generous: a loaded CI machine, a first start
	defer cancelTimeout()
	shots := artifacts(t)
	// A screenshot taken while a navigation or the dashboard's own reload is under way fails
	// ("Cannot take screenshot with 0 width"), as a fresh-clone run once did: settled, at
	// and shotTo (reconcile_test.go) wait for the page first.
	shot := func(name string) chromedp.Action[chromedp.Void] { return shotTo(shots, name) }
	// leave navigates away from the self-reloading dashboard. On a loaded machine the
	// dashboard's own reload can win the race against the navigation and leave the browser
	// on the dashboard, where the next page's elements never appear: a CI run once waited
	// out its whole deadline so. It navigates again until the browser is at path.
	leave := func(url, path string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
			var err error
			for try := 0; try < 5; try++ {
				if _, err = chromedp.Navigate(url)(ctx, target); err != nil {
					continue
				}
				tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				_, err = at(path)(tctx, target)
				cancel()
				if err == nil {
					return chromedp.Void{}, nil
				}
			}
			return chromedp.Void{}, err
		}
	}
	// onDashboard runs steps on the self-reloading dashboard, again if a reload cut them short.
	onDashboard := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		var err error
		for try := 0; try < 3; try++ {
			if err = chromedp.Do(browser, actions...); err == nil {
				return
			}
		}
		t.Fatalf("%s: %v", step, err)
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// A visitor is sent to the login page; a wrong token is refused.
	run("login page", chromedp.Navigate(srv.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#token")), shot("login"))
	run("wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-the-token"), chromedp.Submit(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#error")))
	if got := text("#error"); got != "That is not the API token." {
		t.Fatalf("wrong token: %q", got)
	}
	run("log in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Submit(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#count-pending")))
	onDashboard("dashboard screenshot", chromedp.WaitVisible(chromedp.CSS("#count-pending")), shot("dashboard"))

	// The dashboard's counts are the database's (read in one go: the page reloads itself).
	var counts map[string]string
	for try := 0; try < 3 && len(counts) != len(queue.Statuses); try++ {
		counts, _ = chromedp.Run(browser, chromedp.Evaluate[map[string]string](
			`Object.fromEntries([...document.querySelectorAll(".tile .n[id^=count-]")].map(e => [e.id.slice(6), e.textContent.trim()]))`))
	}
	for _, status := range queue.Statuses {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_queue WHERE status = $1`, status).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if counts[status] != fmt.Sprint(n) {
			t.Fatalf("dashboard %s: %q, database %d (all: %v)", status, counts[status], n, counts)
		}
	}

	// Filter the list to the failed row, open it, retry it.
	run("queue", leave(srv.URL+"/admin/queue", "/admin/queue"), chromedp.WaitVisible(chromedp.CSS("#rows")),
		chromedp.SetValue(chromedp.CSS("#f-status"), "failed"), chromedp.Click(chromedp.CSS("#apply")), at("status=failed"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`a[href="/admin/queue/%d"]`, failedID))), shot("queue-failed"))
	rows, err := chromedp.Run(browser, chromedp.Evaluate[int](`document.querySelectorAll("#rows tbody tr").length`))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("%d rows after filtering on failed, want 1", rows)
	}
	run("open the failed row", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/admin/queue/%d"]`, failedID))),
		chromedp.WaitVisible(chromedp.CSS("#item-status")), shot("row-failed"))
	if got := text("#item-status"); got != "failed" {
		t.Fatalf("row status %q", got)
	}
	if got := text("#item-error"); !strings.Contains(got, "Club not found") {
		t.Fatalf("row error %q", got)
	}
	run("retry", chromedp.Click(chromedp.CSS("#retry")), chromedp.WaitVisible(chromedp.CSS("#flash")), shot("row-retried"))
	if got := text("#item-status"); got != "pending" {
		t.Fatalf("after retry the page says %q", got)
	}
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM crm_sync_queue WHERE id = $1`, failedID).Scan(&status); err != nil || status != "pending" {
		t.Fatalf("after retry the database says %q (%v)", status, err)
	}

	// Run a job now and see the run.
	run("cron", chromedp.Navigate(srv.URL+"/admin/cron"), chromedp.WaitVisible(chromedp.CSS("#no-runs")),
		chromedp.Click(chromedp.CSS("#run-process-expired-enrollments")), chromedp.WaitVisible(chromedp.CSS("#runs")), shot("cron"))
	if got := text("#runs tbody"); !strings.Contains(got, "process-expired-enrollments") || !strings.Contains(got, "manual") || !strings.Contains(got, "succeeded") {
		t.Fatalf("runs table: %q", got)
	}
	// The privacy page: a Shopify data request with what we hold of the customer it names.
	if _, err := pool.Exec(ctx, `INSERT INTO privacy_requests (client_id, topic, shop_domain, shop_id, customer_id, email, data_request_id)
		VALUES ($1, 'customers/data_request', 'napa.myshopify.com', '1', $2, 'm1@example.com', '9999')`, client, m[0]); err != nil {
		t.Fatal(err)
	}
	run("privacy", chromedp.Navigate(srv.URL+"/admin/privacy"), chromedp.WaitVisible(chromedp.CSS(".privacy-customer")), shot("privacy"))
	if got := text(".privacy-request"); !strings.Contains(got, "customers/data_request") || !strings.Contains(got, "m1@example.com") ||
		!strings.Contains(got, "No enrollments.") {
		t.Fatalf("privacy page: %q", got)
	}
	run("clients", chromedp.Navigate(srv.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.CSS("main table")), shot("clients"))
	if got := text("main"); !strings.Contains(got, "Napa Cellars") || !strings.Contains(got, "club club-gold (Ship)") {
		t.Fatalf("clients page: %q", got)
	}
	// Each client's connection, and its check: Napa's Commerce7 answers; Vino's shop
	// refuses its app secret, and the page shows the connection refresh_failing and why.
	// (testfactory makes a client without a pair of its own, as before per-client pairs.)
	if got := text(fmt.Sprintf("#client-%s .conn-webhook-auth", client)); got != "global_deprecated" {
		t.Fatalf("Napa's webhook auth: %q", got)
	}
	run("check Napa", chromedp.Click(chromedp.CSS("#check-"+client)), at("/check"), chromedp.WaitVisible(chromedp.CSS("#check-result")),
		shot("clients-check"))
	if got := text(fmt.Sprintf("#client-%s #check-result", client)); !strings.Contains(got, "the connection works") {
		t.Fatalf("Napa's check: %q", got)
	}
	run("check Vino", chromedp.Navigate(srv.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.CSS("#check-"+vino.ID)),
		chromedp.Click(chromedp.CSS("#check-"+vino.ID)), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#client-%s #check-result", vino.ID))),
		chromedp.ScrollIntoView(chromedp.CSS(fmt.Sprintf("#client-%s", vino.ID))), shot("clients-refresh-failing"))
	if got := text(fmt.Sprintf("#client-%s #check-result", vino.ID)); !strings.Contains(got, "client credentials grant failed") {
		t.Fatalf("Vino's check: %q", got)
	}
	state, why := text(fmt.Sprintf("#client-%s .conn-state", vino.ID)), text(fmt.Sprintf("#client-%s .conn-error", vino.ID))
	if !strings.HasPrefix(state, "refresh_failing") || !strings.Contains(why, "client credentials grant failed") ||
		text(fmt.Sprintf("#client-%s .conn-auth", vino.ID)) != "client_credentials" {
		t.Fatalf("Vino's connection: state %q, error %q", state, why)
	}
	// A phone-sized window, for the record.
	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(srv.URL+"/admin/"))
	onDashboard("phone screenshot", chromedp.WaitVisible(chromedp.CSS("#count-pending")), shot("dashboard-phone"))

	// The dashboard refreshes itself: a row cancelled behind its back shows up.
	if _, err := pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'cancelled', updated_at = now() WHERE id = $1`, failedID); err != nil {
		t.Fatal(err)
	}
	// Watch the page, not a clock: read the count until a reload has brought the new one
	// (an evaluation may land mid-reload and fail; it is read again).
	seen := ""
	watch := time.NewTicker(100 * time.Millisecond)
	defer watch.Stop()
	for deadline := time.Now().Add(30 * time.Second); seen != "1"; <-watch.C {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard did not show the cancelled row by itself (it says %q)", seen)
		}
		seen, _ = chromedp.Run(browser, chromedp.Evaluate[string](`(document.getElementById("count-cancelled") || {}).textContent || ""`))
		seen = strings.TrimSpace(seen)
	}

	// The operator's day (issue 20): enroll a member from the form, find them in the
	// members list under their tier, open their page and see the sync's row completed at
	// the fake Commerce7. A worker replica drains the queue with the real syncer over
	// real HTTP (the admin page's own engine runs no workers, as in a WORKERS=0 replica:
	// its Wait hears of the row by polling).
	worker := queue.New(pool, syncer.New(pool, store, map[string]syncer.ProviderFunc{
		membership.CRMCommerce7: func(_ context.Context, c syncer.Client) (crm.Provider, error) {
			return c7.Provider(c.ID, c.Tenant), nil
		},
	}).Handle, queue.Config{Workers: 2, PollInterval: 100 * time.Millisecond, Limiter: limiter, WorkerID: "browser-test-worker"})
	if err := worker.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = worker.Stop(context.Background()) }()
	const walker = "ada.lovelace@example.com"
	// Silver ships: without an address the form is refused with membership's reason and
	// shown again with what was typed.
	run("enroll form", chromedp.EmulateViewport(1280, 900), leave(srv.URL+"/admin/enroll", "/admin/enroll"), chromedp.WaitVisible(chromedp.CSS("#enroll")),
		chromedp.SetValue(chromedp.CSS("#e-tier"), silver),
		chromedp.SendKeys(chromedp.CSS("#e-email"), walker), chromedp.SendKeys(chromedp.CSS("#e-first"), "Ada"),
		chromedp.SendKeys(chromedp.CSS("#e-last"), "Lovelace"), chromedp.Click(chromedp.CSS("#e-submit")),
		chromedp.WaitVisible(chromedp.CSS("#error")), shot("enroll-needs-address"))
	if got := text("#error"); !strings.Contains(got, "a Ship tier needs the customer's address") {
		t.Fatalf("enrolling in a Ship tier without an address: %q", got)
	}
	if kept, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("e-email").value`)); err != nil || kept != walker {
		t.Fatalf("the form kept the email %q (%v)", kept, err)
	}
	var enrolled int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE email = $1`, walker).Scan(&enrolled); err != nil || enrolled != 0 {
		t.Fatalf("a refused enrollment left %d customers (%v)", enrolled, err)
	}
	run("enroll with an address", chromedp.SendKeys(chromedp.CSS("#e-address"), "1 Vine St"),
		chromedp.SendKeys(chromedp.CSS("#e-city"), "Napa"), chromedp.SendKeys(chromedp.CSS("#e-state"), "CA"),
		chromedp.SendKeys(chromedp.CSS("#e-zip"), "94558"), chromedp.SendKeys(chromedp.CSS("#e-country"), "US"), shot("enroll-form"),
		chromedp.Click(chromedp.CSS("#e-submit")), at("/admin/customers/"), chromedp.WaitVisible(chromedp.CSS("#flash")), shot("enrolled"))
	// The form waited for the sync (EnrollWait) as POST /api/enrollments does; a loaded
	// machine may still see it under way, and the member's page below waits for it.
	if got := text("#flash"); !strings.HasPrefix(got, "Enrolled, and the CRM has") && !strings.HasPrefix(got, "Enrolled. The sync is still") {
		t.Fatalf("after the enroll form: %q", got)
	}
	// The members list, filtered to Silver and searched by part of the name.
	run("members", chromedp.Navigate(srv.URL+"/admin/members"), chromedp.WaitVisible(chromedp.CSS("#members")),
		chromedp.SetValue(chromedp.CSS("#m-tier"), silver), chromedp.SendKeys(chromedp.CSS("#m-q"), "lovel"),
		chromedp.Click(chromedp.CSS("#m-apply")), at("q=lovel"), chromedp.WaitVisible(chromedp.CSS("#members")), shot("members"))
	if n, err := chromedp.Run(browser, chromedp.Evaluate[int](`document.querySelectorAll("#members tbody tr").length`)); err != nil || n != 1 {
		t.Fatalf("members in Silver matching lovel: %d (%v)", n, err)
	}
	if got := text("#members tbody tr"); !strings.Contains(got, walker) || text("#members .member-tier") != "Silver" ||
		text("#members .member-status") != "active" {
		t.Fatalf("members list: %q", got)
	}
	// Their page: the enrollment with its history, and the queue row, read until the
	// worker has completed it (the page does not reload itself: the walk reloads it).
	run("open the member", chromedp.Click(chromedp.CSS("#members a.member-link")), at("/admin/customers/"),
		chromedp.WaitVisible(chromedp.CSS("#customer-rows")))
	customerURL, err := chromedp.Run(browser, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); text("#customer-rows .q-status") != queue.StatusCompleted; {
		if time.Now().After(deadline) {
			t.Fatalf("the member's row is %q, not completed: %s", text("#customer-rows .q-status"), text("#customer-rows"))
		}
		time.Sleep(200 * time.Millisecond)
		run("reload the member", chromedp.Navigate(customerURL), chromedp.WaitVisible(chromedp.CSS("#customer-rows")))
	}
	run("member screenshot", shot("customer"))
	if got := text("#customer-rows tbody tr"); !strings.Contains(got, "Napa Cellars") || !strings.Contains(got, walker) ||
		!strings.Contains(got, "Silver") || !strings.Contains(got, "attempt 1 of 5") {
		t.Fatalf("the member's queue row: %q", got)
	}
	if got := text("#enrollments"); !strings.Contains(got, "Silver") || !strings.Contains(got, "enrolled (admin)") {
		t.Fatalf("the member's enrollments: %q", got)
	}
	if got := text("#customer-ltv"); got != "$0.00" {
		t.Fatalf("lifetime value %q", got)
	}
	// At the fake: the customer, with the address, and a Silver membership.
	c7Customer, ok := c7Fake.CustomerByEmail("napa", walker)
	if !ok {
		t.Fatalf("the fake Commerce7 has no %s", walker)
	}
	if ms := c7Fake.Memberships("napa", c7Customer.ID); len(ms) != 1 || ms[0].ClubID != silverClub {
		t.Fatalf("memberships at the fake: %+v", ms)
	}
	// The queue list says whom and what each row is about by name.
	run("queue by names", chromedp.Navigate(srv.URL+"/admin/queue?client="+client), chromedp.WaitVisible(chromedp.CSS("#rows")), shot("queue-names"))
	if got := text("#rows"); !strings.Contains(got, walker) || !strings.Contains(got, "Napa Cellars") || !strings.Contains(got, "Gold") ||
		strings.Contains(got, silver) || strings.Contains(got, client) {
		t.Fatalf("queue list: %q", got)
	}
	// Clients and tiers are edited on the clients page: Silver's minimum purchase in
	// dollars, Napa's rate limit.
	run("edit a tier", chromedp.Navigate(srv.URL+"/admin/clients"), chromedp.WaitVisible(chromedp.CSS("#edit-tier-"+silver)),
		chromedp.Click(chromedp.CSS("#edit-tier-"+silver+" summary")), chromedp.WaitVisible(chromedp.CSS("#tier-min-purchase-"+silver)),
		chromedp.SetValue(chromedp.CSS("#tier-min-purchase-"+silver), "75.50"), shot("clients-edit-tier"),
		chromedp.Click(chromedp.CSS("#tier-save-"+silver)), at("msg=tier-saved"), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := text(fmt.Sprintf("#tier-%s .tier-min-purchase", silver)); got != "$75.50" {
		t.Fatalf("Silver's minimum purchase after the edit: %q", got)
	}
	run("edit a client", chromedp.Click(chromedp.CSS("#edit-client-"+client+" summary")),
		chromedp.SetValue(chromedp.CSS(fmt.Sprintf("#client-form-%s input[name=rate_limit_per_minute]", client)), "120"),
		chromedp.Click(chromedp.CSS("#client-save-"+client)), at("msg=client-saved"), chromedp.WaitVisible(chromedp.CSS("#flash")),
		shot("clients-edited"))
	var minPurchase int64
	var rate int
	if err := pool.QueryRow(ctx, `SELECT t.min_purchase_cents, c.rate_limit_per_minute FROM tiers t JOIN clients c ON c.id = t.client_id
		WHERE t.id = $1`, silver).Scan(&minPurchase, &rate); err != nil || minPurchase != 7550 || rate != 120 {
		t.Fatalf("after the edits the database says %d cents, %d/min (%v)", minPurchase, rate, err)
	}

	// Attempts read clearly across a reset: a row that failed its five attempts, given
	// them all back from its page, is tried again as attempt 1, and its history marks
	// where the count started again.
	resetCustomer := testfactory.CustomersWith(t, pool, client, []testfactory.CustomerOpts{{Email: "reset@example.com", FirstName: "R", LastName: "S"}})[0]
	resetRow := testfactory.QueueRows(t, pool, []testfactory.QueueRowOpts{{CustomerID: resetCustomer, TierID: tier, Status: "failed", Attempts: 5,
		ErrorMessage: "commerce7: HTTP 503"}})[0]
	if _, err := pool.Exec(ctx, `INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome, http_status, error)
		SELECT $1, n, 'earlier-worker', now() - interval '1 hour' + n * interval '1 minute', now() - interval '1 hour' + n * interval '1 minute',
		       CASE WHEN n = 5 THEN 'failed' ELSE 'retry' END, 503, 'commerce7: HTTP 503'
		FROM generate_series(1, 5) n`, resetRow); err != nil {
		t.Fatal(err)
	}
	rowURL := fmt.Sprintf("%s/admin/queue/%d", srv.URL, resetRow)
	run("reset a row", chromedp.Navigate(rowURL), chromedp.WaitVisible(chromedp.CSS("#retry-reset")),
		chromedp.Click(chromedp.CSS("#retry-reset")), at("msg=retried"), chromedp.WaitVisible(chromedp.CSS("#history")))
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(text("#history"), "Attempts reset by an operator"); {
		if time.Now().After(deadline) {
			t.Fatalf("no reset in the row's history: %q", text("#history"))
		}
		time.Sleep(200 * time.Millisecond)
		run("reload the row", chromedp.Navigate(rowURL), chromedp.WaitVisible(chromedp.CSS("#history")))
	}
	run("reset screenshot", shot("row-reset"))
	if got := text("#history"); !strings.Contains(got, "attempt 5 of 5") || !strings.Contains(got, "attempt 1 of 5") {
		t.Fatalf("the row's history: %q", got)
	}
	// (A try the rate limit throttled gives its attempt back: the count may read "none
	// yet" then, and the reset is still marked.)
	if got := text("#item-attempts"); !strings.Contains(got, "since the last reset") || !strings.Contains(got, "tries in all, reset 1 time") {
		t.Fatalf("attempts after a reset: %q", got)
	}

	// Log out (from a page that does not reload itself): the admin page is closed again.
	run("log out", leave(srv.URL+"/admin/clients", "/admin/clients"), chromedp.WaitVisible(chromedp.CSS("#logout")),
		chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")))
	t.Logf("screenshots in %s", shots)
}

// TestAdminPageWithoutABrowser checks what a browser hides: a POST without the session's
// CSRF token is refused, GET changes nothing, and redirects stay on the admin page.
func TestAdminPageWithoutABrowser(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	store := membership.NewStore(pool, nil)
	engine := queue.New(pool, nil, queue.Config{Workers: 1})
	sched, _ := jobs.Scheduler(jobs.Deps{Pool: pool, Store: store, Engine: engine}, jobs.Specs{Expire: "off", Sync: "off", Reconcile: "off"}, schedule.Options{})
	admin, err := web.New(web.Options{Token: token, SecretKey: secretKey, Pool: pool, Store: store, Engine: engine, Scheduler: sched})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cases := []struct {
		method, path, body string
		cookie             bool
		status             int
		location           string
	}{
		{"GET", "/admin/", "", false, 303, "/admin/login?next=%2Fadmin%2F"},
		{"POST", "/admin/cron/run", "job=process-expired-enrollments", false, 401, ""},
		{"POST", "/admin/login", "token=" + token + "&next=https://evil.example/", false, 303, "/admin/"},
		{"POST", "/admin/cron/run", "job=process-expired-enrollments", true, 403, ""}, // no CSRF token
		{"GET", "/admin/cron/run", "", true, 405, ""},
		{"GET", "/admin/queue/abc", "", true, 400, ""},
	}
	var session *http.Cookie
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c.cookie && session != nil {
			req.AddCookie(session)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status || (c.location != "" && resp.Header.Get("Location") != c.location) {
			t.Fatalf("%s %s: %d %q, want %d %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Location"), c.status, c.location)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "tiersync_admin" {
				if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/admin" {
					t.Fatalf("session cookie %+v", ck)
				}
				session = ck
			}
		}
	}
	var runs int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM job_runs`).Scan(&runs); err != nil || runs != 0 {
		t.Fatalf("%d runs made by refused requests (%v)", runs, err)
	}
	if session == nil {
		t.Fatal(errors.New("no session cookie after a good login"))
	}
}
