//! Matching organisers seen on the feeds to an area's register of known providers: by
//! website domain, email domain, normalised name (legal and club noise removed, then a close
//! match) and postcode. Every match says how it was made and how sure it is.

use std::collections::HashSet;

/// Words that do not tell providers apart.
const NOISE: &[&str] = &[
    "ltd",
    "limited",
    "cic",
    "cio",
    "plc",
    "llp",
    "inc",
    "club",
    "clubs",
    "the",
    "and",
    "of",
    "uk",
    "community",
    "interest",
    "company",
    "association",
    "society",
    "fc",
    "group",
];

/// Email domains shared by many unrelated people, which say nothing about who sent them.
const SHARED_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "outlook.com",
    "live.co.uk",
    "yahoo.com",
    "yahoo.co.uk",
    "btinternet.com",
    "icloud.com",
    "aol.com",
    "sky.com",
];

/// A provider from the register, as matching needs it.
#[derive(Debug, Clone)]
pub struct KnownProvider {
    pub id: i64,
    pub name: String,
    pub postcode: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
}

/// An organiser as the feeds show it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeenOrganizer {
    pub name: String,
    pub url: Option<String>,
    pub email: Option<String>,
    pub postcode: Option<String>,
}

/// A provider matched to an organiser, how, and how sure (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderMatch {
    pub provider_id: i64,
    pub organizer: String,
    pub method: &'static str,
    pub confidence: f64,
}

/// The name folded: lower case, punctuation and noise words gone, "&" as "and".
pub fn normalise_name(name: &str) -> String {
    name.to_lowercase()
        .replace('&', " and ")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !NOISE.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The register key: normalised name and postcode, so a re-import updates, never duplicates.
pub fn provider_key(name: &str, postcode: Option<&str>) -> String {
    let postcode: String = postcode
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    format!("{}|{postcode}", normalise_name(name))
}

/// A website's host without `www.`.
pub fn web_domain(url: &str) -> Option<String> {
    web_site(url).map(|site| site.host)
}

/// Hosts where many unrelated organisations have pages: a shared host says who only with
/// its first path segment (`facebook.com/prestonwalkers`).
const SHARED_HOSTS: &[&str] = &[
    "facebook.com",
    "m.facebook.com",
    "instagram.com",
    "twitter.com",
    "x.com",
    "linktr.ee",
    "sites.google.com",
    "eventbrite.co.uk",
    "eventbrite.com",
    "meetup.com",
    "youtube.com",
    "linkedin.com",
    "groups.io",
];

/// Where a website lives: its host (without `www.`) and the first segment of its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSite {
    pub host: String,
    pub first_segment: Option<String>,
}

pub fn web_site(url: &str) -> Option<WebSite> {
    let rest = url.trim().split("://").nth(1).unwrap_or(url.trim());
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = rest[..end].split(':').next()?.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    if !host.contains('.') {
        return None;
    }
    let first_segment = rest[end..]
        .strip_prefix('/')
        .and_then(|path| path.split(['/', '?', '#']).next())
        .filter(|segment| !segment.is_empty())
        .map(str::to_lowercase);
    Some(WebSite {
        host,
        first_segment,
    })
}

/// How sure two websites make us that they belong to the same organisation: the same host
/// (1.0), or the same host and first path segment where the host holds many organisations'
/// pages (a shared platform, or both URLs naming different sections of one site: 0.9).
/// Different sections of one host (`example.org/rowing`, `example.org/tennis`) are not a match.
pub fn same_site(a: &WebSite, b: &WebSite) -> Option<f64> {
    if a.host != b.host {
        return None;
    }
    let shared_host = SHARED_HOSTS.contains(&a.host.as_str());
    match (&a.first_segment, &b.first_segment) {
        (Some(x), Some(y)) if x == y => Some(if shared_host { 0.9 } else { 1.0 }),
        (Some(_), Some(_)) => None,
        _ if shared_host => None,
        _ => Some(1.0),
    }
}

/// An email's domain, unless it is a shared mail service.
pub fn mail_domain(email: &str) -> Option<String> {
    let domain = email.trim().rsplit_once('@')?.1.to_lowercase();
    (!SHARED_MAIL.contains(&domain.as_str())).then_some(domain)
}

fn words(name: &str) -> HashSet<String> {
    normalise_name(name)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The best match for each organiser, if any: website (1.0, see [`same_site`]), email domain (0.9),
/// the same normalised name (0.95), or a close name (shared words, 0.75 and up; +0.1 when
/// the postcode agrees). Below 0.75 nothing is claimed.
pub fn match_providers(register: &[KnownProvider], seen: &[SeenOrganizer]) -> Vec<ProviderMatch> {
    let mut found = Vec::new();
    for organizer in seen {
        let web = organizer.url.as_deref().and_then(web_site);
        let mail = organizer.email.as_deref().and_then(mail_domain);
        let name = normalise_name(&organizer.name);
        let name_words = words(&organizer.name);
        let mut best: Option<ProviderMatch> = None;
        for provider in register {
            let mut candidate = |method: &'static str, confidence: f64| {
                if best.as_ref().is_none_or(|b| confidence > b.confidence) {
                    best = Some(ProviderMatch {
                        provider_id: provider.id,
                        organizer: organizer.name.clone(),
                        method,
                        confidence,
                    });
                }
            };
            if let (Some(ours), Some(theirs)) =
                (&web, provider.website.as_deref().and_then(web_site))
                && let Some(confidence) = same_site(ours, &theirs)
            {
                candidate("website", confidence);
            }
            if mail.is_some() && mail == provider.email.as_deref().and_then(mail_domain) {
                candidate("email domain", 0.9);
            }
            if !name.is_empty() && name == normalise_name(&provider.name) {
                candidate("name", 0.95);
            }
            let theirs = words(&provider.name);
            let shared = name_words.intersection(&theirs).count();
            let union = name_words.union(&theirs).count().max(1);
            let mut score = shared as f64 / union as f64;
            let same_postcode = matches!(
                (&organizer.postcode, &provider.postcode),
                (Some(a), Some(b)) if provider_key("", Some(a)) == provider_key("", Some(b))
            );
            if same_postcode {
                score += 0.1;
            }
            if score >= 0.75 && shared > 0 {
                candidate(
                    if same_postcode {
                        "close name and postcode"
                    } else {
                        "close name"
                    },
                    score.min(0.9),
                );
            }
        }
        found.extend(best);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: i64, name: &str, website: Option<&str>, email: Option<&str>) -> KnownProvider {
        KnownProvider {
            id,
            name: name.into(),
            postcode: Some("PR1 2XX".into()),
            website: website.map(str::to_owned),
            email: email.map(str::to_owned),
        }
    }

    fn seen(
        name: &str,
        url: Option<&str>,
        email: Option<&str>,
        postcode: Option<&str>,
    ) -> SeenOrganizer {
        SeenOrganizer {
            name: name.into(),
            url: url.map(str::to_owned),
            email: email.map(str::to_owned),
            postcode: postcode.map(str::to_owned),
        }
    }

    #[test]
    fn names_keys_and_domains_are_normalised() {
        assert_eq!(
            normalise_name("Preston Walking Football Club Ltd."),
            "preston walking football"
        );
        assert_eq!(normalise_name("Tea & Tai-Chi C.I.C."), "tea tai chi c i c");
        assert_eq!(
            provider_key("The Yoga Room", Some("pr1 2xx")),
            "yoga room|PR12XX"
        );
        assert_eq!(
            web_domain("https://www.Example.org/path?q"),
            Some("example.org".into())
        );
        let site = |url: &str| web_site(url).expect(url);
        assert_eq!(
            same_site(
                &site("https://pwfc.example"),
                &site("http://www.pwfc.example/sessions")
            ),
            Some(1.0),
            "a site without a path owns its host"
        );
        assert_eq!(
            same_site(
                &site("https://example.org/rowing"),
                &site("https://example.org/tennis/book")
            ),
            None,
            "two sections of one host are two organisations"
        );
        assert_eq!(
            same_site(
                &site("https://facebook.com/PrestonWalkers"),
                &site("https://www.facebook.com/prestonwalkers/events")
            ),
            Some(0.9)
        );
        assert_eq!(
            same_site(
                &site("https://facebook.com/"),
                &site("https://facebook.com/prestonwalkers")
            ),
            None,
            "a shared platform's host alone says nothing"
        );
        assert_eq!(
            mail_domain("hello@bowls-club.org.uk"),
            Some("bowls-club.org.uk".into())
        );
        assert_eq!(
            mail_domain("someone@gmail.com"),
            None,
            "shared mail says nothing"
        );
    }

    #[test]
    fn each_organiser_gets_its_best_match_with_how_and_how_sure() {
        let register = [
            known(
                1,
                "Preston Walking Football Club",
                Some("https://pwfc.example"),
                None,
            ),
            known(
                2,
                "Riverside Yoga CIC",
                None,
                Some("info@riverside-yoga.example"),
            ),
            known(3, "Blackburn Bowls Association", None, None),
            known(4, "Chorley Badminton", None, Some("chorleybad@gmail.com")),
        ];
        let matches = match_providers(
            &register,
            &[
                seen("PWFC", Some("http://www.pwfc.example/sessions"), None, None),
                seen(
                    "Riverside Yoga",
                    None,
                    Some("bookings@riverside-yoga.example"),
                    None,
                ),
                seen("Blackburn Bowls", None, None, Some("PR1 2XX")),
                seen("Chorley Netball", None, Some("netball@gmail.com"), None),
            ],
        );
        let shape: Vec<(&str, i64, &str)> = matches
            .iter()
            .map(|m| (m.organizer.as_str(), m.provider_id, m.method))
            .collect();
        assert_eq!(
            shape,
            [
                ("PWFC", 1, "website"),
                ("Riverside Yoga", 2, "name"),
                ("Blackburn Bowls", 3, "name"),
            ],
            "a shared gmail address and a different sport match nothing"
        );
    }

    #[test]
    fn providers_with_pages_on_one_host_are_not_each_others_matches() {
        let register = [
            known(
                1,
                "Ribble Valley Leisure Trust",
                Some("https://example.org/ribble-valley"),
                None,
            ),
            known(
                2,
                "South Lakes Active Communities",
                Some("https://example.org/south-lakes"),
                None,
            ),
        ];
        let matches = match_providers(
            &register,
            &[
                seen(
                    "South Lakes Active Communities",
                    Some("https://example.org/south-lakes/sessions"),
                    None,
                    None,
                ),
                seen(
                    "Ribble Valley Leisure Trust",
                    Some("https://example.org/ribble-valley"),
                    None,
                    None,
                ),
            ],
        );
        let shape: Vec<(&str, i64, &str)> = matches
            .iter()
            .map(|m| (m.organizer.as_str(), m.provider_id, m.method))
            .collect();
        assert_eq!(
            shape,
            [
                ("South Lakes Active Communities", 2, "website"),
                ("Ribble Valley Leisure Trust", 1, "website"),
            ]
        );
    }
}
