package commerce7

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"tiersync/internal/crm"
)

// Bulk reads for reconciliation (crm.Lister): every live member of the mapped clubs, page
// by page, one customer's live members, and a customer's email.
//
// The listing is GET /club-membership?clubId=<club>&page=<n>, one club after another in
// the order of their ids. Two things about it are not confirmed (docs/crm-assumptions.md):
//
//   - that Commerce7 honours clubId. If it does not, every club's listing is the whole
//     tenant's. So each page is read for members of any mapped club, not only the club
//     asked for, and a page holding a membership of another club marks the listing as the
//     tenant's: it ends after that pass, instead of listing the whole tenant once per club.
//   - the cursor paging Commerce7 offers on "select endpoints" (cursor=start, the answer's
//     cursor): public code uses it on this endpoint, but nothing says how long a cursor
//     lives, and ours must survive a crash and a restart of unknown length. Pages are
//     numbered, so a page number stored today still means something tomorrow.
//
// Repeats are harmless: the caller de-duplicates members by (customer, tier, membership
// id). A membership may appear twice when the tenant's memberships shift between two
// pages (a page is 50 records counted from the oldest), or when a club's listing turns out
// to be the tenant's after other clubs were listed; a page read while a membership is
// created or removed may also miss one, which is why the caller confirms a difference with
// CustomerMembers before repairing it.

var _ crm.Lister = (*Provider)(nil)

// maxClubPages bounds one club's listing: 20 000 pages are a million memberships, beyond
// any winery's club, so a listing that has not ended by then is an API that keeps
// answering full pages, not a club.
const maxClubPages = 20000

// listCursor is where a listing resumes, as ListMembers hands it out (JSON). It holds only
// what Commerce7 and the tiers say, nothing of this process, so a cursor stored before a
// crash works in a fresh Provider.
type listCursor struct {
	Club string `json:"club"` // the club whose listing this is
	Page int    `json:"page"` // the page to read next, from 1
	// Whole says the club's listing was seen to hold other clubs' memberships: Commerce7
	// ignored clubId, the pages are the tenant's, and the listing ends after this pass.
	Whole bool `json:"whole,omitempty"`
}

func (c listCursor) String() string {
	b, _ := json.Marshal(c) // a struct of a string, an int and a bool always encodes
	return string(b)
}

// parseCursor reads a cursor ListMembers handed out; anything else is an error, never a
// guess at where to resume.
func parseCursor(s string) (listCursor, error) {
	var c listCursor
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	err := dec.Decode(&c)
	if err == nil {
		if _, more := dec.Token(); more != io.EOF {
			err = errors.New("data after the cursor")
		}
	}
	if err == nil && (c.Club == "" || c.Page < 1) {
		err = errors.New("no club, or a page below 1")
	}
	if err != nil {
		return listCursor{}, &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "list club members",
			Message: fmt.Sprintf("malformed listing cursor %q: %v", crm.CleanText(s, 80), err), Err: err}
	}
	return c, nil
}

// clubTiers maps each club of tiers to its tier, and returns the clubs in order. Tiers
// without a club (a Shopify client's) are not Commerce7's to list. A club mapped by two
// tiers is an error: tiers hold one tier per club (tiers_client_c7_club_key), and a
// member could not be told which tier they are in.
func clubTiers(tiers []crm.Tier) (map[string]string, []string, error) {
	byClub := map[string]string{}
	var clubs []string
	for _, t := range tiers {
		if t.C7ClubID == "" {
			continue
		}
		if other, ok := byClub[t.C7ClubID]; ok {
			if other == t.ID {
				continue
			}
			return nil, nil, &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "list club members",
				Message: fmt.Sprintf("club %s is mapped by two tiers, %s and %s", t.C7ClubID, other, t.ID)}
		}
		byClub[t.C7ClubID] = t.ID
		clubs = append(clubs, t.C7ClubID)
	}
	sort.Strings(clubs)
	return byClub, clubs, nil
}

// liveAt says whether m makes its customer a member at now: Active or On Hold, and no
// cancel date reached. Commerce7 keeps such a membership Active until the end of its
// cancel date; a reconciliation comparing it with our enrollments reads it as ended from
// the date on, as an incoming membership webhook does (MembershipWebhook.Cancelled).
func liveAt(m membership, now time.Time) bool {
	return m.live() && (m.CancelDate == nil || m.CancelDate.After(now))
}

// member is m as a crm.Member of tier, its ids checked: the caller stores them.
func member(m membership, tier string) (crm.Member, error) {
	for _, id := range []string{m.CustomerID, m.ID} {
		if err := crm.CheckID("commerce7", "list club members", id); err != nil {
			return crm.Member{}, fmt.Errorf("membership %q of club %s: %w", crm.CleanText(m.ID, 64), m.ClubID, err)
		}
	}
	return crm.Member{CustomerID: m.CustomerID, TierID: tier, MembershipID: m.ID}, nil
}

// ListMembers reads one page of the live members of the tiers' clubs: one request, one
// rate-limit token (p.do). "" starts with the first club; the answer's next is "" after
// the last page of the last club. A cursor whose club is no longer mapped resumes with the
// next mapped club after it.
func (p *Provider) ListMembers(ctx context.Context, tiers []crm.Tier, cursor string) ([]crm.Member, string, error) {
	byClub, clubs, err := clubTiers(tiers)
	if err != nil || len(clubs) == 0 {
		return nil, "", err // no club mapped: nothing of this client is in Commerce7's clubs
	}
	at := listCursor{Club: clubs[0], Page: 1}
	if cursor != "" {
		if at, err = parseCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	if _, mapped := byClub[at.Club]; !mapped {
		after := sort.SearchStrings(clubs, at.Club) // the first mapped club after it
		switch {
		case at.Whole:
			// The pages are the tenant's whatever club is asked for: the same page of any
			// mapped club carries the pass on (the first one, when none comes after).
			at.Club = clubs[after%len(clubs)]
		case after == len(clubs):
			return nil, "", nil
		default:
			at = listCursor{Club: clubs[after], Page: 1}
		}
	}
	if at.Page > maxClubPages {
		return nil, "", &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "list club members",
			Message: fmt.Sprintf("the listing of club %s did not end after %d pages: Commerce7 keeps answering full pages", at.Club, maxClubPages)}
	}

	var res struct {
		ClubMemberships []membership `json:"clubMemberships"`
		Total           int          `json:"total"`
	}
	q := url.Values{"clubId": {at.Club}, "page": {strconv.Itoa(at.Page)}}
	if err := p.do(ctx, "list club members", http.MethodGet, "/club-membership", q, nil, &res); err != nil {
		return nil, "", err
	}
	now := p.c.cfg.Now()
	whole := at.Whole
	var members []crm.Member
	for _, m := range res.ClubMemberships {
		if m.ClubID != at.Club {
			whole = true // an honoured filter lists no other club
		}
		tier, mapped := byClub[m.ClubID]
		if !mapped || !liveAt(m, now) {
			continue
		}
		x, err := member(m, tier)
		if err != nil {
			return nil, "", err
		}
		members = append(members, x)
	}

	last := len(res.ClubMemberships) < pageSize || at.Page*pageSize >= res.Total
	switch {
	case !last:
		return members, listCursor{Club: at.Club, Page: at.Page + 1, Whole: whole}.String(), nil
	case whole:
		return members, "", nil // this pass listed the tenant: every mapped club's members
	}
	if i := sort.SearchStrings(clubs, at.Club) + 1; i < len(clubs) {
		return members, listCursor{Club: clubs[i], Page: 1}.String(), nil
	}
	return members, "", nil
}

// CustomerMembers reads the customer's live members of the tiers' clubs, through the
// per-customer listing (memberships), which keeps the customer's own memberships only.
func (p *Provider) CustomerMembers(ctx context.Context, crmCustomerID string, tiers []crm.Tier) ([]crm.Member, error) {
	byClub, clubs, err := clubTiers(tiers)
	if err != nil || len(clubs) == 0 {
		return nil, err
	}
	if crmCustomerID == "" {
		return nil, &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "list club memberships", Message: "no customer id"}
	}
	ms, err := p.memberships(ctx, crmCustomerID)
	if err != nil {
		return nil, err
	}
	now := p.c.cfg.Now()
	var members []crm.Member
	for _, m := range ms {
		tier, mapped := byClub[m.ClubID]
		if !mapped || !liveAt(m, now) {
			continue
		}
		x, err := member(m, tier)
		if err != nil {
			return nil, err
		}
		members = append(members, x)
	}
	return members, nil
}

// CustomerEmail reads the customer's first email (GET /customer/{id}); "" when the customer
// has none.
func (p *Provider) CustomerEmail(ctx context.Context, crmCustomerID string) (string, error) {
	if crmCustomerID == "" {
		// GET /customer/ would be the customer search, not a customer.
		return "", &crm.Error{Class: crm.Permanent, CRM: "commerce7", Op: "read customer", Message: "no customer id"}
	}
	c, err := p.Customer(ctx, crmCustomerID)
	if err != nil {
		return "", err
	}
	return c.Email, nil
}
