package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/tracegate/tracegate/internal/principal"
)

// maxCachedTokens bounds the verified-token cache; when full it is emptied
// (the next requests re-verify and refill it).
const maxCachedTokens = 10000

// tokenCache remembers tokens that verified, keyed by the SHA-256 of the
// token, so a client repeating its token is not re-verified on every request.
// An entry is used only until the token's exp, and only while the key set
// that verified it is still the one in use: any change of the key set (a
// rotation, a removed key, a refresh) empties the cache. Refusals are never
// cached. The token itself is not stored.
type tokenCache struct {
	mu      sync.Mutex
	keys    *keySet // the key set the entries were verified with
	entries map[[sha256.Size]byte]principal.Principal
}

func (c *tokenCache) get(raw string, keys *keySet, now time.Time) (principal.Principal, bool) {
	sum := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != keys {
		return principal.Principal{}, false
	}
	p, ok := c.entries[sum]
	if !ok || !now.Before(p.ExpiresAt) {
		return principal.Principal{}, false
	}
	return p, true
}

func (c *tokenCache) put(raw string, keys *keySet, p principal.Principal) {
	sum := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != keys || len(c.entries) >= maxCachedTokens {
		c.keys, c.entries = keys, make(map[[sha256.Size]byte]principal.Principal)
	}
	c.entries[sum] = p
}
