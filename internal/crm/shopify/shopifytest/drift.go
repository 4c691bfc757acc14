package shopifytest

import "strings"

// Changes made behind tiersync's back, as a merchant editing a customer in the Shopify
// admin (or another app) would: a reconciliation test creates the drift it must find.
// None of them is a request: nothing is logged, no cost is charged, no fault applies. Each
// panics on an unknown shop or customer, like AddCustomer: a test naming one has a bug.

// SetTags replaces the customer's tags. Tags are trimmed, empty ones dropped, and those
// differing only in case kept once (the first), as tagsAdd keeps them. The tag search
// lags behind it like behind tagsAdd (Options.TagSearchLag).
func (f *Fake) SetTags(shop, id string, tags []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.mustCustomer(shop, id)
	f.tagsChanging(c)
	kept := []string{}
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" && !hasTag(kept, t) {
			kept = append(kept, t)
		}
	}
	c.Tags = kept
}

// SetMetafield sets a single_line_text_field metafield of the customer.
func (f *Fake) SetMetafield(shop, id, namespace, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mustCustomer(shop, id).Metafields[namespace+"."+key] = Metafield{Type: "single_line_text_field", Value: value}
}

// DeleteMetafield removes a metafield of the customer (none: no change).
func (f *Fake) DeleteMetafield(shop, id, namespace, key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mustCustomer(shop, id).Metafields, namespace+"."+key)
}

// DeleteCustomer removes the customer: reads of its id answer null from then on.
func (f *Fake) DeleteCustomer(shop, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.mustCustomer(shop, id)
	s := f.shops[shop]
	kept := s.customers[:0]
	for _, x := range s.customers {
		if x != c {
			kept = append(kept, x)
		}
	}
	s.customers = kept
}

// mustCustomer finds the customer; f.mu held.
func (f *Fake) mustCustomer(shop, id string) *Customer {
	s := f.shops[shop]
	if s == nil {
		panic("shopifytest: unknown shop " + shop)
	}
	c := s.customer(id)
	if c == nil {
		panic("shopifytest: unknown customer " + id + " in " + shop)
	}
	return c
}
