package shopify

import (
	"net/http"

	"tiersync/internal/crm"
)

// DeprecatedHeader is how Shopify says a request used something deprecated: since
// 2025-04 it lists the deprecated fields ("Customer.email"), before it named a page.
const DeprecatedHeader = "X-Shopify-API-Deprecated-Reason"

// reportDeprecated passes a deprecation header on to Config.OnDeprecated. The header is
// Shopify's text and ends up in a log line: it is cleaned and capped like any CRM text.
func (c *Client) reportDeprecated(shop, op string, h http.Header) {
	if c.cfg.OnDeprecated == nil {
		return
	}
	if reason := h.Get(DeprecatedHeader); reason != "" {
		c.cfg.OnDeprecated(shop, op, crm.CleanText(reason, crm.MaxQuoted))
	}
}

// note passes a note on to Config.OnNote.
func (c *Client) note(shop, op, text string) {
	if c.cfg.OnNote != nil {
		c.cfg.OnNote(shop, op, crm.CleanText(text, crm.MaxMessage))
	}
}
