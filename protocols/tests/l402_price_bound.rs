//! Dynamic pricing (issue K item 3): an L402 token minted for a bound price carries
//! `<service>_max_price_msat` and pays only for requests priced at most that.

mod common;

use common::*;
use gate402_protocols::{CredentialError, NoRailFacts, Offer, PaymentProtocol, VerifyError};

fn priced(price_msat: u64) -> Offer {
    Offer {
        price_msat,
        bind_price: true,
        ..offer()
    }
}

fn verify_at(m: &gate402_protocols::l402::Macaroon, o: &Offer) -> Result<(), CredentialError> {
    l402()
        .verify(&cred(m, PREIMAGE), o, &NoRailFacts, NOW)
        .map(|_| ())
}

#[test]
fn a_bound_token_pays_for_requests_priced_at_most_its_price() {
    let m = l402().mint(&priced(5_000), hash(&PREIMAGE), NOW);
    let caveats: Vec<&[u8]> = m.caveats().collect();
    assert_eq!(
        caveats.last().copied(),
        Some(&b"api_max_price_msat=5000"[..])
    );
    assert_eq!(verify_at(&m, &priced(5_000)), Ok(()));
    assert_eq!(verify_at(&m, &priced(1_000)), Ok(()));
    assert_eq!(
        verify_at(&m, &priced(50_000)),
        Err(VerifyError::PriceNotCovered {
            paid_msat: 5_000,
            price_msat: 50_000
        }
        .into())
    );
    assert_eq!(
        VerifyError::PriceNotCovered {
            paid_msat: 1,
            price_msat: 2
        }
        .reason(),
        "price_not_covered"
    );
}

#[test]
fn a_token_without_a_price_bound_is_refused_on_a_dynamically_priced_route() {
    // Minted for the static route (no caveat): it paid the static price, not this one.
    let m = l402().mint(&offer(), hash(&PREIMAGE), NOW);
    assert!(m.caveats().all(|c| !c.ends_with(b"msat=10000")));
    assert_eq!(
        verify_at(&m, &priced(1_000)),
        Err(VerifyError::PriceNotCovered {
            paid_msat: 0,
            price_msat: 1_000
        }
        .into())
    );
    // A static route ignores a bound caveat (the token's service and signature decide).
    let bound = l402().mint(&priced(5_000), hash(&PREIMAGE), NOW);
    assert_eq!(verify_at(&bound, &offer()), Ok(()));
}

#[test]
fn the_price_bound_cannot_be_widened_by_the_holder() {
    let mut m = l402().mint(&priced(5_000), hash(&PREIMAGE), NOW);
    // Anyone may add a first-party caveat; a larger bound than the minted one is refused.
    m.add_first_party_caveat(b"api_max_price_msat=50000");
    assert_eq!(
        verify_at(&m, &priced(50_000)),
        Err(VerifyError::CaveatWidened("api_max_price_msat".into()).into())
    );
    // Narrowing is allowed and takes effect.
    let mut n = l402().mint(&priced(5_000), hash(&PREIMAGE), NOW);
    n.add_first_party_caveat(b"api_max_price_msat=2000");
    assert_eq!(verify_at(&n, &priced(2_000)), Ok(()));
    assert!(verify_at(&n, &priced(3_000)).is_err());
    let mut bad = l402().mint(&priced(5_000), hash(&PREIMAGE), NOW);
    bad.add_first_party_caveat(b"api_max_price_msat=-1");
    assert!(matches!(
        verify_at(&bad, &priced(1)),
        Err(CredentialError::Verify(VerifyError::BadCaveat(_)))
    ));
}
