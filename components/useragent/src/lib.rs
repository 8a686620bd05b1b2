//! The client, operating system and device a `User-Agent` names, as Appwrite fills a session's
//! `client*`, `os*` and `device*` fields: matomo's codes (`CH`, `MF`, `WIN`, `IOS` …), which the
//! avatars `getBrowser` route takes, and its names. The rules follow the ones Appwrite 1.9
//! switched to (utopia-php/user-agent, MIT), written here without regular expressions: the
//! regex-based crates cost more Worker size than the whole icon set (ARCHITECTURE.md).

/// The browser or library that sent the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    /// `browser`, `library`, or empty.
    pub kind: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    pub version: String,
    pub engine: &'static str,
    pub engine_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Os {
    pub code: &'static str,
    pub name: &'static str,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    /// `desktop`, `smartphone`, `tablet`, `tv`, `console`, `wearable`, `portable media player`, or empty.
    pub kind: &'static str,
    pub brand: &'static str,
    pub model: String,
}

/// What one `User-Agent` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgent {
    pub client: Client,
    pub os: Os,
    pub device: Device,
}

impl UserAgent {
    pub fn parse(ua: &str) -> UserAgent {
        // A long header is a client's to send, not ours to scan in full.
        let ua = match ua.char_indices().nth(512) {
            Some((cut, _)) => &ua[..cut],
            None => ua,
        };
        if ua.trim().is_empty() {
            return UserAgent::default();
        }
        UserAgent { client: client(ua), os: os(ua), device: device(ua) }
    }
}

/// Byte offset of `needle` in `hay`, ASCII case-insensitively.
fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

fn has(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// The run of `allowed` characters at the start of `s`.
fn run(s: &str, allowed: impl Fn(char) -> bool) -> &str {
    let end = s.char_indices().find(|(_, c)| !allowed(*c)).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// The version after the first `token/` (digits and dots, `_` read as `.`), if it has one.
fn token_version(ua: &str, token: &str) -> Option<String> {
    let mut from = 0;
    while let Some(at) = find(&ua[from..], token) {
        let after = from + at + token.len();
        if let Some(rest) = ua[after..].strip_prefix('/') {
            let digits = run(rest, |c| c.is_ascii_digit() || c == '.' || c == '_');
            if !digits.is_empty() {
                return Some(clean(digits));
            }
        }
        from = after;
    }
    None
}

/// `_` as `.`, without leading or trailing dots and dashes.
fn clean(version: &str) -> String {
    version.replace('_', ".").trim_matches(['.', '-']).to_string()
}

/// Major and minor only, as Appwrite shows a client's version.
fn display(version: &str) -> String {
    clean(version).split('.').take(2).collect::<Vec<_>>().join(".")
}

fn browser(
    code: &'static str,
    name: &'static str,
    version: &str,
    engine: &'static str,
    engine_version: Option<String>,
) -> Client {
    Client {
        kind: "browser",
        code,
        name,
        version: display(version),
        engine,
        engine_version: engine_version.unwrap_or_default(),
    }
}

fn client(ua: &str) -> Client {
    let mobile = has(ua, "Mobile");
    let chrome = || token_version(ua, "Chrome");
    let webkit = || token_version(ua, "AppleWebKit");
    // Edge, Opera, Samsung and the iOS shells carry other browsers' tokens: they come first.
    for token in ["EdgA", "EdgiOS", "Edg", "Edge"] {
        if let Some(v) = token_version(ua, token) {
            return browser("PS", "Microsoft Edge", &v, "Blink", chrome().or(Some(v.clone())));
        }
    }
    if let Some(v) = token_version(ua, "Opera Mini") {
        return browser("OI", "Opera Mini", &v, "Presto", token_version(ua, "Presto"));
    }
    if let Some(v) = token_version(ua, "OPR").or_else(|| token_version(ua, "Opera")) {
        let mobile = mobile || has(ua, "Opera Mobi");
        let (code, name) = if mobile { ("OM", "Opera Mobile") } else { ("OP", "Opera") };
        return browser(code, name, &v, "Blink", chrome().or(Some(v.clone())));
    }
    if let Some(v) = token_version(ua, "SamsungBrowser") {
        return browser("SB", "Samsung Browser", &v, "Blink", chrome().or(Some(v.clone())));
    }
    if let Some(v) = token_version(ua, "CriOS") {
        return browser("CI", "Chrome Mobile iOS", &v, "WebKit", webkit());
    }
    if let Some(v) = token_version(ua, "FxiOS") {
        return browser("F1", "Firefox Mobile iOS", &v, "WebKit", webkit());
    }
    // Chromium derivatives with their own token.
    const DERIVATIVES: &[(&str, &str, &str)] = &[
        ("coc_coc_browser", "CC", "Coc Coc"),
        ("Vivaldi", "VI", "Vivaldi"),
        ("YaBrowser", "YA", "Yandex Browser"),
        ("Brave", "BR", "Brave"),
        ("Whale", "WH", "Whale Browser"),
        ("UCBrowser", "UC", "UC Browser"),
        ("MQQBrowser", "QQ", "QQ Browser"),
        ("QQBrowser", "QQ", "QQ Browser"),
        ("DuckDuckGo", "DD", "DuckDuckGo Privacy Browser"),
        ("Silk", "MS", "Mobile Silk"),
    ];
    let derivative = |code, name, v: &str| match (chrome(), webkit()) {
        (Some(c), _) => browser(code, name, v, "Blink", Some(c)),
        (None, Some(w)) => browser(code, name, v, "WebKit", Some(w)),
        (None, None) => browser(code, name, v, "", None),
    };
    for (token, code, name) in DERIVATIVES {
        if let Some(v) = token_version(ua, token) {
            return derivative(code, name, &v);
        }
    }
    if let (Some(v), Some(_)) = (token_version(ua, "Focus"), chrome()) {
        return derivative("FK", "Firefox Focus", &v);
    }
    if let Some(v) = token_version(ua, "HuaweiBrowser") {
        let (code, name) = if mobile { ("HU", "Huawei Browser Mobile") } else { ("HP", "Huawei Browser") };
        return derivative(code, name, &v);
    }
    if ua.contains("; wv)") || has(ua, "Version/4.0 Chrome/") {
        if let Some(c) = chrome() {
            return browser("CV", "Chrome Webview", &c, "Blink", Some(c.clone()));
        }
    }
    if let Some(v) = ["HeadlessChrome", "Chromium", "Chrome"].iter().find_map(|t| token_version(ua, t)) {
        let mobile = mobile || has(ua, "Android");
        let (code, name) = if mobile { ("CM", "Chrome Mobile") } else { ("CH", "Chrome") };
        return browser(code, name, &v, "Blink", Some(clean(&v)));
    }
    if let Some(v) = token_version(ua, "Firefox") {
        let mobile = mobile || has(ua, "Android");
        let (code, name) = if mobile { ("FM", "Firefox Mobile") } else { ("FF", "Firefox") };
        return browser(code, name, &v, "Gecko", Some(display(&v)));
    }
    if has(ua, "Safari/") && has(ua, "AppleWebKit/") {
        let mobile = has(ua, "Mobile/") && (has(ua, "iPhone") || has(ua, "iPad") || has(ua, "iPod"));
        let (code, name) = if mobile { ("MF", "Mobile Safari") } else { ("SF", "Safari") };
        let mut c = browser(code, name, "", "WebKit", webkit());
        c.version = token_version(ua, "Version").unwrap_or_default();
        return c;
    }
    let ie = find(ua, "MSIE ")
        .map(|at| &ua[at + 5..])
        .or_else(|| find(ua, "Trident/").and_then(|at| find(&ua[at..], "rv:").map(|rv| &ua[at + rv + 3..])));
    if let Some(rest) = ie {
        let v = run(rest, |c| c.is_ascii_digit() || c == '.');
        if !v.is_empty() {
            let mut c = browser("IE", "Internet Explorer", "", "Trident", token_version(ua, "Trident"));
            c.version = clean(v);
            return c;
        }
    }
    const LIBRARIES: &[(&str, &str)] = &[
        ("curl", "curl"),
        ("Wget", "Wget"),
        ("PostmanRuntime", "Postman Runtime"),
        ("okhttp", "OkHttp"),
        ("Dart", "Dart"),
        ("GuzzleHttp", "Guzzle"),
        ("python-requests", "Python Requests"),
        ("Python-urllib", "Python urllib"),
        ("aiohttp", "aiohttp"),
        ("Go-http-client", "Go-http-client"),
        ("node-fetch", "Node Fetch"),
        ("axios", "Axios"),
        ("HTTPie", "HTTPie"),
        ("Apache-HttpClient", "Apache HTTP Client"),
        ("Java-http-client", "Java HTTP Client"),
        ("Java", "Java"),
        ("got", "got"),
    ];
    for (token, name) in LIBRARIES {
        if let Some(v) = token_version(ua, token) {
            return Client { kind: "library", name, version: display(&v), ..Client::default() };
        }
    }
    Client::default()
}

/// The version right after `marker` (separated by a space or `/`), in `allowed` characters.
fn version_after(ua: &str, marker: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    let at = find(ua, marker)?;
    let rest = ua[at + marker.len()..].strip_prefix([' ', '/'])?;
    let v = run(rest, allowed);
    (!v.is_empty()).then(|| clean(v))
}

fn os(ua: &str) -> Os {
    let digits = |c: char| c.is_ascii_digit() || c == '.' || c == '_';
    let make = |code, name, version: Option<String>| Os { code, name, version: version.unwrap_or_default() };
    if has(ua, "Windows Phone") {
        let v = version_after(ua, "Windows Phone OS", digits)
            .or_else(|| version_after(ua, "Windows Phone", digits));
        return make("WPH", "Windows Phone", v);
    }
    if let Some(nt) = version_after(ua, "Windows NT", |c| c.is_ascii_digit() || c == '.') {
        let name = match nt.as_str() {
            "10.0" | "6.4" => "10",
            "6.3" => "8.1",
            "6.2" => "8",
            "6.1" => "7",
            "6.0" => "Vista",
            "5.2" | "5.1" => "XP",
            "5.0" => "2000",
            other => other,
        };
        return make("WIN", "Windows", Some(name.to_string()));
    }
    let ios = version_after(ua, "CPU iPhone OS", digits)
        .or_else(|| version_after(ua, "CPU OS", digits))
        .or_else(|| version_after(ua, "iPhone OS", digits));
    if ios.is_some() {
        return make("IOS", "iOS", ios);
    }
    if let Some(v) = version_after(ua, "Android", |c| c.is_ascii_digit() || c == '.' || c == '_' || c == '-')
        .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    {
        return make("AND", "Android", Some(v));
    }
    if let Some(at) = find(ua, "CrOS ") {
        // `CrOS <platform> <version>`
        let rest = &ua[at + 5..];
        let version =
            rest.split_once(' ').map(|(_, v)| run(v, |c| c.is_ascii_digit() || c == '.')).unwrap_or("");
        if !version.is_empty() {
            return make("COS", "Chrome OS", Some(clean(version)));
        }
    }
    if let Some(v) = version_after(ua, "Mac OS X", digits) {
        return make("MAC", "Mac", Some(display(&v)));
    }
    for (marker, code, name) in [("Tizen", "TIZ", "Tizen"), ("KaiOS", "KOS", "KaiOS")] {
        if let Some(v) = version_after(ua, marker, |c| c.is_ascii_digit() || c == '.') {
            return make(code, name, Some(v));
        }
    }
    if has(ua, "Ubuntu") {
        return make("UBT", "Ubuntu", version_after(ua, "Ubuntu", |c| c.is_ascii_digit() || c == '.'));
    }
    if has(ua, "Linux") || has(ua, "X11") {
        return make("LIN", "GNU/Linux", None);
    }
    Os::default()
}

fn device(ua: &str) -> Device {
    let make = |kind, brand, model: Option<String>| Device { kind, brand, model: model.unwrap_or_default() };
    for (marker, brand) in [
        ("Xbox Series X", "Microsoft"),
        ("Xbox Series S", "Microsoft"),
        ("Xbox One", "Microsoft"),
        ("Xbox", "Microsoft"),
        ("PlayStation Vita", "Sony"),
        ("PlayStation 5", "Sony"),
        ("PlayStation 4", "Sony"),
        ("PlayStation 3", "Sony"),
        ("Nintendo Switch", "Nintendo"),
        ("Nintendo WiiU", "Nintendo"),
        ("Nintendo Wii", "Nintendo"),
        ("Nintendo 3DS", "Nintendo"),
    ] {
        if let Some(at) = find(ua, marker) {
            return make("console", brand, Some(ua[at..at + marker.len()].to_string()));
        }
    }
    if has(ua, "AppleTV") {
        return make("tv", "Apple", Some("Apple TV".into()));
    }
    let tv =
        ["SmartTV", "Smart-TV", "HbbTV", "GoogleTV", "Android TV", "BRAVIA", "NetCast", "Tizen TV", "webOS"];
    if tv.iter().any(|m| has(ua, m)) {
        return make("tv", brand(ua, ""), None);
    }
    for (marker, kind, model) in [
        ("iPad", "tablet", "iPad"),
        ("iPhone", "smartphone", "iPhone"),
        ("iPod", "portable media player", "iPod"),
    ] {
        if has(ua, marker) {
            return make(kind, "Apple", Some(model.into()));
        }
    }
    if has(ua, "Watch") && has(ua, "Apple") {
        return make("wearable", "Apple", Some("Apple Watch".into()));
    }
    if has(ua, "Windows Phone") {
        return make("smartphone", "Microsoft", windows_phone_model(ua));
    }
    if has(ua, "Kindle") || has(ua, "Silk/") {
        return make("tablet", "Amazon", kindle_model(ua));
    }
    if has(ua, "Android") {
        let model = android_model(ua);
        let tablet = !has(ua, "Mobile") || model.as_deref().is_some_and(tablet_model);
        let brand = brand(ua, model.as_deref().unwrap_or(""));
        return make(if tablet { "tablet" } else { "smartphone" }, brand, model);
    }
    if has(ua, "BlackBerry") || has(ua, "BB10") {
        let model = find(ua, "BlackBerry").and_then(|at| {
            let rest = ua[at + 10..].trim_start_matches(|c: char| c != '/' && !c.is_ascii_alphanumeric());
            let rest = rest.strip_prefix('/').unwrap_or(rest);
            let m = run(rest, |c| c.is_ascii_alphanumeric() || c == '-');
            (!m.is_empty()).then(|| m.to_string())
        });
        return make("smartphone", "BlackBerry", model);
    }
    let desktop = [
        "Windows NT",
        "Macintosh",
        "X11",
        "CrOS",
        "Linux x86_64",
        "Linux i386",
        "Linux i486",
        "Linux i586",
        "Linux i686",
    ];
    if desktop.iter().any(|m| has(ua, m)) {
        return make("desktop", if has(ua, "Macintosh") { "Apple" } else { "" }, None);
    }
    Device::default()
}

/// The model in `Android …; [locale;] MODEL [Build/…])`.
fn android_model(ua: &str) -> Option<String> {
    let at = find(ua, "Android")?;
    let inside = &ua[at..];
    let inside = &inside[..inside.find(')').unwrap_or(inside.len())];
    let mut parts = inside.split(';').skip(1).map(str::trim);
    let mut part = parts.next()?;
    // A locale (`en-us`) before the model.
    let is_locale = |p: &str| {
        let b = p.as_bytes();
        (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
            || (b.len() == 5 && b[..2].iter().all(u8::is_ascii_alphabetic) && (b[2] == b'-' || b[2] == b'_'))
    };
    if is_locale(part) {
        part = parts.next()?;
    }
    let model = match find(part, " Build/") {
        Some(cut) => &part[..cut],
        None => part.strip_suffix(" Build").unwrap_or(part),
    }
    .trim();
    (!model.is_empty() && !model.eq_ignore_ascii_case("wv") && !model.eq_ignore_ascii_case("K"))
        .then(|| model.to_string())
}

fn windows_phone_model(ua: &str) -> Option<String> {
    let at = find(ua, "Windows Phone")?;
    let inside = &ua[at..];
    let inside = &inside[..inside.find(')').unwrap_or(inside.len())];
    let model = inside.split(';').nth(2)?.trim();
    (!model.is_empty()).then(|| model.to_string())
}

fn kindle_model(ua: &str) -> Option<String> {
    let at = (0..ua.len().saturating_sub(3)).find(|&i| {
        ua.as_bytes()[i..i + 2].eq_ignore_ascii_case(b"KF")
            && (i == 0 || !ua.as_bytes()[i - 1].is_ascii_alphanumeric())
            && ua.as_bytes()[i + 2].is_ascii_alphanumeric()
    })?;
    let model = run(&ua[at..], |c| c.is_ascii_alphanumeric());
    (model.len() >= 4).then(|| model.to_string()).or_else(|| android_model(ua))
}

fn tablet_model(model: &str) -> bool {
    let m = model.to_ascii_lowercase();
    [
        "sm-t",
        "sm-x",
        "gt-p",
        "nexus 7",
        "nexus 9",
        "nexus 10",
        "pixel c",
        "pixel tablet",
        "tb-",
        "yt-",
        "lenovo tab",
        "tab ",
        "mediapad",
        "huawei mediapad",
        "pad",
    ]
    .iter()
    .any(|p| m.starts_with(p))
        || m.ends_with(" pad")
        || m.contains(" pad ")
}

/// The maker a model or User-Agent names.
fn brand(ua: &str, model: &str) -> &'static str {
    let subject = format!("{model} {ua}");
    let word = |w: &str| {
        let mut from = 0;
        while let Some(at) = find(&subject[from..], w) {
            let start = from + at;
            let before = subject[..start].chars().next_back();
            if before.is_none_or(|c| !c.is_ascii_alphanumeric()) {
                return true;
            }
            from = start + w.len();
        }
        false
    };
    const BRANDS: &[(&str, &[&str])] = &[
        ("Samsung", &["SM-", "Samsung"]),
        ("Google", &["Pixel", "Nexus"]),
        ("Huawei", &["Huawei", "ANE-", "ELE-", "VOG-"]),
        ("Honor", &["Honor", "HLK-", "BKL-"]),
        ("Xiaomi", &["Xiaomi", "Redmi", "Mi "]),
        ("OnePlus", &["OnePlus"]),
        ("Oppo", &["OPPO", "CPH"]),
        ("Vivo", &["vivo"]),
        ("Motorola", &["Motorola", "moto", "XT"]),
        ("Nokia", &["Nokia"]),
        ("Sony", &["Sony", "Xperia"]),
        ("LG", &["LG-", "LG ", "LM-"]),
        ("Amazon", &["Kindle", "Silk/", "KF"]),
    ];
    BRANDS.iter().find(|(_, marks)| marks.iter().any(|m| word(m))).map_or("", |(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ua: &str) -> String {
        let p = UserAgent::parse(ua);
        format!(
            "{}|{}|{}|{}|{}|{} ; {}|{}|{} ; {}|{}|{}",
            p.client.kind,
            p.client.code,
            p.client.name,
            p.client.version,
            p.client.engine,
            p.client.engine_version,
            p.os.code,
            p.os.name,
            p.os.version,
            p.device.kind,
            p.device.brand,
            p.device.model
        )
    }

    #[test]
    fn desktop_browsers() {
        assert_eq!(
            summary("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"),
            "browser|CH|Chrome|131.0|Blink|131.0.0.0 ; LIN|GNU/Linux| ; desktop||"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.77 Safari/537.36"),
            "browser|CH|Chrome|70.0|Blink|70.0.3538.77 ; WIN|Windows|10 ; desktop||"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:47.0) Gecko/20100101 Firefox/47.0"),
            "browser|FF|Firefox|47.0|Gecko|47.0 ; WIN|Windows|7 ; desktop||"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"),
            "browser|SF|Safari|17.1|WebKit|605.1.15 ; MAC|Mac|10.15 ; desktop|Apple|"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"),
            "browser|PS|Microsoft Edge|120.0|Blink|120.0.0.0 ; WIN|Windows|10 ; desktop||"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"),
            "browser|OP|Opera|105.0|Blink|119.0.0.0 ; WIN|Windows|10 ; desktop||"
        );
    }

    #[test]
    fn mobile_browsers() {
        assert_eq!(
            summary("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"),
            "browser|MF|Mobile Safari|17.0|WebKit|605.1.15 ; IOS|iOS|17.0 ; smartphone|Apple|iPhone"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240105.004) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.193 Mobile Safari/537.36"),
            "browser|CM|Chrome Mobile|120.0|Blink|120.0.6099.193 ; AND|Android|14 ; smartphone|Google|Pixel 8"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36"),
            "browser|SB|Samsung Browser|23.0|Blink|115.0.0.0 ; AND|Android|13 ; tablet|Samsung|SM-X700"
        );
        assert_eq!(
            summary("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1"),
            "browser|CI|Chrome Mobile iOS|119.0|WebKit|605.1.15 ; IOS|iOS|16.6 ; tablet|Apple|iPad"
        );
        assert_eq!(
            summary("Mozilla/5.0 (Linux; Android 12; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/96.0.4664.104 Mobile Safari/537.36"),
            "browser|CV|Chrome Webview|96.0|Blink|96.0.4664.104 ; AND|Android|12 ; smartphone||"
        );
    }

    #[test]
    fn libraries_sdks_and_nothing() {
        assert_eq!(summary("curl/8.5.0"), "library||curl|8.5|| ; || ; ||");
        assert_eq!(summary("python-requests/2.31.0"), "library||Python Requests|2.31|| ; || ; ||");
        assert_eq!(
            summary("AppwriteNodeJSSDK/21.1.0 (linux; x64) Node.js/v20.20.0"),
            "||||| ; LIN|GNU/Linux| ; ||"
        );
        assert_eq!(summary(""), "||||| ; || ; ||");
        // Garbage and very long headers are read, never panic.
        for ua in [
            "Chrome/",
            "Android",
            "(((;;;)))",
            "Mozilla/5.0 (Linux; Android",
            "KF",
            "Trident/ rv:",
            &"x/".repeat(5000),
            "ñ/ü (Android 1; é)",
        ] {
            let _ = UserAgent::parse(ua);
        }
    }
}
