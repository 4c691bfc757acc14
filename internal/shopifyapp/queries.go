package shopifyapp

import _ "embed" // the queries in sql/

// One statement a file, named for what it does (see internal/membership/queries.go).
var (
	//go:embed sql/insert.sql
	sqlInsert string
	//go:embed sql/get.sql
	sqlGet string
	//go:embed sql/lock_get.sql
	sqlLockGet string
	//go:embed sql/by_shop.sql
	sqlByShop string
	//go:embed sql/save_tokens.sql
	sqlSaveTokens string
	//go:embed sql/set_state.sql
	sqlSetState string
	//go:embed sql/adopt_webhook_secret.sql
	sqlAdoptWebhookSecret string
	//go:embed sql/set_webhook_secret.sql
	sqlSetWebhookSecret string
	//go:embed sql/list_states.sql
	sqlListStates string
	//go:embed sql/set_uninstalled.sql
	sqlSetUninstalled string
	//go:embed sql/rotate.sql
	sqlRotate string
	//go:embed sql/list_states_of.sql
	sqlListStatesOf string
)

// The key check (keycheck.go).
var (
	//go:embed sql/key_check_insert.sql
	sqlKeyCheckInsert string
	//go:embed sql/key_check_get.sql
	sqlKeyCheckGet string
	//go:embed sql/any_sealed.sql
	sqlAnySealed string
)
