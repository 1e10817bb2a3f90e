package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sign sets on h the headers that a sender using c would send with body at
// now, signed with c.Secrets[0] (the other secrets are not used). It is meant
// for tests, demos and load generators: whatever Sign produces, a Verifier
// built from the same Config accepts within the tolerance.
//
// For standard, the message id is h's Webhook-Id when set, otherwise
// "msg_" and a hash of body; the secret must be whsec_ (v1) or whsk_ (v1a).
// Scheme none sets nothing.
func Sign(c Config, h http.Header, body []byte, now time.Time) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Scheme == SchemeNone {
		return nil
	}
	secret := c.Secrets[0]
	switch c.Scheme {
	case SchemeStandard:
		id := h.Get(HeaderWebhookID)
		if id == "" {
			sum := sha256.Sum256(body)
			id = "msg_" + hex.EncodeToString(sum[:12])
		}
		if strings.IndexByte(id, '.') >= 0 {
			return fmt.Errorf("%w: %s must not contain '.'", ErrInvalidConfig, HeaderWebhookID)
		}
		sig, err := SignStandard(secret, id, now, body)
		if err != nil {
			return err
		}
		h.Set(HeaderWebhookID, id)
		h.Set(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderWebhookSignature, sig)
	case SchemeStripe:
		h.Set(HeaderStripeSignature, SignStripe(secret, now, body))
	case SchemeGitHub:
		h.Set(HeaderGitHubSignature, SignGitHub(secret, body))
	case SchemeShopify:
		h.Set(HeaderShopifySignature, SignShopify(secret, body))
	case SchemeSlack:
		h.Set(HeaderSlackTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderSlackSignature, SignSlack(secret, now, body))
	case SchemeHMAC:
		sig, err := SignHMAC(c, body)
		if err != nil {
			return err
		}
		h.Set(c.Header, sig)
	}
	return nil
}
