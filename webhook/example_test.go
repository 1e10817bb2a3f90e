package webhook_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/fender-dev/fender/webhook"
)

func ExampleNewVerifier() {
	v, err := webhook.NewVerifier(webhook.Config{
		Scheme:  webhook.SchemeStripe,
		Secrets: []string{"whsec_new", "whsec_old"}, // during a rotation
	})
	if err != nil {
		panic(err)
	}

	body := []byte(`{"id":"evt_1"}`)
	signedAt := time.Unix(1_700_000_000, 0)
	h := http.Header{}
	h.Set("Stripe-Signature", webhook.SignStripe("whsec_old", signedAt, body))

	fmt.Println(v.Verify(h, body, signedAt.Add(time.Minute)))
	err = v.Verify(h, body, signedAt.Add(time.Hour))
	fmt.Println(webhook.Reason(err))
	err = v.Verify(h, []byte(`{"id":"evt_2"}`), signedAt)
	fmt.Println(webhook.Reason(err))
	// Output:
	// <nil>
	// stale_timestamp
	// mismatch
}

func ExampleSignStandard() {
	sig, err := webhook.SignStandard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleStandardSigner() {
	// Build the signer once (the secret is decoded here), sign each delivery.
	s, err := webhook.NewStandardSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	req, _ := http.NewRequest("POST", "http://app.internal/webhooks", nil)
	ts := time.Unix(1614265330, 0)
	req.Header.Set(webhook.HeaderWebhookID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	req.Header.Set(webhook.HeaderWebhookTimestamp, fmt.Sprint(ts.Unix()))
	req.Header.Set(webhook.HeaderWebhookSignature, s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, []byte(`{"test": 2432232314}`)))
	fmt.Println(req.Header.Get("webhook-signature"))
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

func ExampleSign() {
	c := webhook.Config{Scheme: webhook.SchemeSlack, Secrets: []string{"8f742231b10e8888abcd99yyyzzz85a5"}}
	h := http.Header{}
	body := []byte("token=abc&command=%2Fdeploy")
	now := time.Unix(1531420618, 0)
	if err := webhook.Sign(c, h, body, now); err != nil {
		panic(err)
	}
	v, _ := webhook.NewVerifier(c)
	fmt.Println(h.Get(webhook.HeaderSlackTimestamp), v.Verify(h, body, now))
	// Output: 1531420618 <nil>
}
