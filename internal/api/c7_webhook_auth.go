package api

import (
	"context"
	"net/http"

	"tiersync/internal/membership"
)

// commerce7Authorized reports whether a Basic auth pair may post webhooks for the client.
// A client with credentials of its own accepts those and nothing else: the global pair,
// or another winery's pair, is refused. A client made before per-client credentials
// (legacy) still accepts the global COMMERCE7_WEBHOOK_USER/_PASSWORD, with a deprecation
// warning in the log for every webhook, until its credentials are rotated.
func (s *Server) commerce7Authorized(ctx context.Context, client membership.Client, user, pass string) (bool, error) {
	res, err := s.opts.Store.MatchWebhookCredentials(ctx, client.ID, user, pass)
	if err != nil {
		return false, err
	}
	switch res {
	case membership.WebhookAuthMatched:
		return true, nil
	case membership.WebhookAuthLegacy:
		cfg := s.opts.Webhooks
		if !credentialsMatch(user, pass, cfg.Commerce7User, cfg.Commerce7Password) {
			return false, nil
		}
		s.log.Warn("commerce7 webhook authenticated with the global COMMERCE7_WEBHOOK_USER/_PASSWORD, which is deprecated: "+
			"rotate the client's webhook credentials (POST /api/clients/{client_id}/webhook-credentials) and paste them into Commerce7",
			"client_id", client.ID, "tenant", client.Tenant)
		return true, nil
	default:
		return false, nil
	}
}

// refuseCommerce7 answers a webhook whose credentials could not be checked (err) or are
// not the client's: 401 with a Basic challenge, saying which pair Commerce7 must send.
func refuseCommerce7(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="tiersync webhooks"`)
	writeError(w, http.StatusUnauthorized, "missing or wrong Basic auth for Commerce7 webhooks: "+
		"send the webhook_user and webhook_password of the client whose tenant is tenantId")
}
