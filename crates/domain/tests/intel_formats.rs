//! The six GuardDuty list formats and AWS's ip-ranges.json, parsed from files written after each
//! vendor's layout (tests/data/intel/README.md says where each layout comes from).
use proptest::prelude::*;
use std::net::IpAddr;
use vedette_domain::intel::{IpNet, ListError, ListFormat, ParsedList, parse_aws_ip_ranges, parse_list};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/intel/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(format: ListFormat, name: &str) -> ParsedList {
    parse_list(format, &data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn entries(list: &ParsedList) -> Vec<String> {
    list.entries.iter().map(ToString::to_string).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn api_format_names_round_trip() {
    for format in ListFormat::ALL {
        assert_eq!(ListFormat::from_api(format.as_api()), Some(format));
    }
    assert_eq!(ListFormat::from_api("OTX_CSV"), Some(ListFormat::OtxCsv));
    assert_eq!(ListFormat::from_api("txt"), None, "the API enum is case-sensitive");
    assert_eq!(ListFormat::from_api("JSON"), None);
}

#[test]
fn txt_takes_one_entry_per_line_and_counts_the_rest() {
    let list = parse(ListFormat::Txt, "list.txt");
    assert_eq!(
        entries(&list),
        ["198.51.100.7/32", "203.0.113.0/24", "192.0.2.44/32", "2001:db8::dead:beef/128", "2001:db8:1000::/36", "198.51.100.99/32",]
    );
    // /33 prefix, a word, an octet above 255.
    assert_eq!(list.bad_lines, 3);
    assert_eq!(list.first_bad_lines, [12, 14, 15]);
    assert_eq!(list.ignored, 1, "the domain name");
}

#[test]
fn txt_tolerates_bom_crlf_and_utf16() {
    let list = parse(ListFormat::Txt, "list_crlf_bom.txt");
    assert_eq!(entries(&list), ["198.51.100.1/32", "198.51.100.2/32", "2001:db8::2/128"]);
    assert_eq!(list.bad_lines, 0);

    // The same text saved as UTF-16 little-endian with its BOM (Windows "Unicode").
    let text = String::from_utf8(data("list_crlf_bom.txt")).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text.trim_start_matches('\u{feff}').encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let from_utf16 = parse_list(ListFormat::Txt, &utf16).unwrap();
    assert_eq!(from_utf16, list);
}

#[test]
fn txt_keeps_only_the_first_ten_bad_line_numbers_and_no_content() {
    let text: String = (1..=15).map(|i| format!("secret-token-{i}\n")).collect();
    let list = parse_list(ListFormat::Txt, text.as_bytes()).unwrap();
    assert_eq!(list.bad_lines, 15);
    assert_eq!(list.first_bad_lines, (1..=10).collect::<Vec<u64>>());
    assert!(list.entries.is_empty());
    assert!(!format!("{list:?}").contains("secret"), "a parse result never carries file content");
}

#[test]
fn stix_reads_address_objects_with_lists_ranges_and_cdata() {
    let list = parse(ListFormat::Stix, "stix.xml");
    assert_eq!(
        entries(&list),
        [
            "198.51.100.1/32",
            "198.51.100.2/32",
            "198.51.100.3/32",
            "203.0.113.9/32",
            "192.0.2.0/25",
            "2001:db8::bad/128",
            "192.0.2.200/29", // InclusiveBetween 192.0.2.200 .. 192.0.2.207
        ]
    );
    // The domain-name object and the StartsWith pattern.
    assert_eq!(list.ignored, 2);
    // 198.51.100.256, reported by the line of its Address_Value.
    assert_eq!(list.bad_lines, 1);
    assert_eq!(list.first_bad_lines, [86]);
}

#[test]
fn stix_accepts_plain_comma_lists_and_taxii_envelopes() {
    let xml = r#"<taxii_11:Poll_Response xmlns:taxii_11="http://taxii.mitre.org/messages/taxii_xml_binding-1.1">
      <taxii_11:Content_Block><taxii_11:Content>
      <stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" xmlns:cybox="http://cybox.mitre.org/cybox-2"
          xmlns:AddressObject="http://cybox.mitre.org/objects#AddressObject-2"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
        <cybox:Properties xsi:type="AddressObject:AddressObjectType">
          <AddressObject:Address_Value condition="Equals" apply_condition="ANY">10.0.0.0,10.0.0.1, 10.0.0.2</AddressObject:Address_Value>
        </cybox:Properties>
      </stix:STIX_Package></taxii_11:Content></taxii_11:Content_Block></taxii_11:Poll_Response>"#;
    let list = parse_list(ListFormat::Stix, xml.as_bytes()).unwrap();
    assert_eq!(entries(&list), ["10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32"]);
}

#[test]
fn stix_rejects_files_that_are_not_stix_xml() {
    for (what, bytes) in [
        ("plain text", data("list.txt")),
        ("STIX 2 JSON", br#"{"type": "bundle", "objects": [{"type": "indicator", "pattern": "[ipv4-addr:value = '198.51.100.1']"}]}"#.to_vec()),
        ("XML without a package", b"<html><body><p>198.51.100.1</p></body></html>".to_vec()),
        ("broken XML", b"<stix:STIX_Package <<< >".to_vec()),
        ("empty", Vec::new()),
    ] {
        let error = parse_list(ListFormat::Stix, &bytes).expect_err(what);
        assert!(matches!(error, ListError::Malformed { format: "STIX", .. }), "{what}: {error}");
    }
}

#[test]
fn stix_truncated_after_the_package_began_keeps_what_was_read() {
    let full = data("stix.xml");
    let cut = full.len() * 3 / 5;
    let list = parse_list(ListFormat::Stix, &full[..cut]).unwrap();
    let complete = parse(ListFormat::Stix, "stix.xml");
    assert!(!list.entries.is_empty());
    assert!(list.entries.len() < complete.entries.len());
    assert!(complete.entries.starts_with(&list.entries));
}

#[test]
fn stix_does_not_expand_custom_entities() {
    // A "billion laughs" document: entities are never expanded, so the value is just bad.
    let xml = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
      <stix:STIX_Package xmlns:stix="x" xmlns:cybox="y" xmlns:AddressObj="z" xmlns:xsi="w">
        <cybox:Properties xsi:type="AddressObj:AddressObjectType" category="ipv4-addr">
          <AddressObj:Address_Value>&lol2;</AddressObj:Address_Value>
        </cybox:Properties>
        <cybox:Properties xsi:type="AddressObj:AddressObjectType" category="ipv4-addr">
          <AddressObj:Address_Value>198.51.100.&#49;</AddressObj:Address_Value>
        </cybox:Properties>
      </stix:STIX_Package>"#;
    let list = parse_list(ListFormat::Stix, xml.as_bytes()).unwrap();
    assert_eq!(entries(&list), ["198.51.100.1/32"], "character references are resolved");
    assert_eq!(list.bad_lines, 1);
}

#[test]
fn otx_csv_takes_address_types_and_ignores_the_others() {
    let list = parse(ListFormat::OtxCsv, "otx.csv");
    assert_eq!(entries(&list), ["198.51.100.7/32", "203.0.113.0/28", "2001:db8::7/128", "192.0.2.10/32"]);
    // domain, hostname, URL, FileHash-SHA256.
    assert_eq!(list.ignored, 4);
    assert_eq!(list.first_bad_lines, [9]);
    assert_eq!(list.bad_lines, 1);
}

#[test]
fn otx_csv_without_a_header_and_a_foreign_csv() {
    let headerless = b"IPv4,198.51.100.8,\nCIDR,198.51.100.128/25,example\n";
    let list = parse_list(ListFormat::OtxCsv, headerless).unwrap();
    assert_eq!(entries(&list), ["198.51.100.8/32", "198.51.100.128/25"]);

    let error = parse_list(ListFormat::OtxCsv, &data("isight.csv")).unwrap_err();
    assert!(matches!(error, ListError::Malformed { format: "OTX_CSV", .. }));
}

#[test]
fn alien_vault_reputation_uses_the_first_field() {
    let list = parse(ListFormat::AlienVault, "reputation.data");
    assert_eq!(entries(&list), ["198.51.100.7/32", "203.0.113.20/32", "192.0.2.33/32", "2001:db8::33/128"]);
    assert_eq!(list.first_bad_lines, [7, 8]);
    assert_eq!(list.ignored, 0);

    // The reputation.generic variant: `ip # activity`.
    let generic = b"198.51.100.9 # Malicious Host\n203.0.113.10 # Scanning Host\n";
    let list = parse_list(ListFormat::AlienVault, generic).unwrap();
    assert_eq!(entries(&list), ["198.51.100.9/32", "203.0.113.10/32"]);
}

#[test]
fn proof_point_with_and_without_header() {
    let list = parse(ListFormat::ProofPoint, "et_iprep.csv");
    assert_eq!(entries(&list), ["198.51.100.7/32", "203.0.113.8/32", "2001:db8::8/128", "192.0.2.9/32"]);
    assert_eq!(list.first_bad_lines, [5]);

    let list = parse(ListFormat::ProofPoint, "et_iprep_noheader.csv");
    assert_eq!(entries(&list), ["198.51.100.70/32", "203.0.113.80/32"]);
    assert_eq!(list.bad_lines, 0);

    // The detailed list's spelled-out header.
    let spelled = b"IP Address,Category,Score,First Seen,Last Seen,Ports\n198.51.100.71,1,127,2017-01-01,2024-06-30,80\n";
    assert_eq!(entries(&parse_list(ListFormat::ProofPoint, spelled).unwrap()), ["198.51.100.71/32"]);
}

#[test]
fn proof_point_domain_list_is_all_ignored_and_a_foreign_csv_is_rejected() {
    let list = parse(ListFormat::ProofPoint, "et_domainrep.csv");
    assert!(list.entries.is_empty());
    assert_eq!(list.ignored, 2);
    assert_eq!(list.bad_lines, 0);

    let error = parse_list(ListFormat::ProofPoint, &data("otx.csv")).unwrap_err();
    assert!(matches!(error, ListError::Malformed { format: "PROOF_POINT", .. }));
}

#[test]
fn fire_eye_takes_address_columns_by_header_name() {
    let list = parse(ListFormat::FireEye, "isight.csv");
    assert_eq!(entries(&list), ["198.51.100.7/32", "203.0.113.0/24", "192.0.2.77/32", "2001:db8::77/128"]);
    // The domain row and the md5 row.
    assert_eq!(list.ignored, 2);
    // 198.51.100.777, and a row with no indicator at all.
    assert_eq!(list.first_bad_lines, [8, 9]);

    let error = parse_list(ListFormat::FireEye, &data("otx.csv")).unwrap_err();
    assert!(matches!(error, ListError::Malformed { format: "FIRE_EYE", .. }));
}

#[test]
fn csv_comment_and_blank_lines_are_skipped() {
    let text = b"# exported 2024-06-30\nip,category,score\n\n# section\n198.51.100.5,1,10\n   \n// note\n\
        \"198.51.100.6\",2,\"multi\r\nline\"\r\nbad,3,30\r\n198.51.100.7";
    let list = parse_list(ListFormat::ProofPoint, text).unwrap();
    assert_eq!(entries(&list), ["198.51.100.5/32", "198.51.100.6/32", "198.51.100.7/32"]);
    // Numbered as an editor shows it, counting the skipped lines and the quoted line break.
    assert_eq!(list.first_bad_lines, [10]);
}

#[test]
fn compressed_or_binary_files_are_rejected_without_echoing_content() {
    let gzip = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
    let binary = b"198.51.100.1\n\x00\x01\x02secret\x00";
    for format in ListFormat::ALL {
        for bytes in [&gzip[..], &binary[..]] {
            let error = parse_list(format, bytes).unwrap_err();
            assert!(!error.to_string().contains("secret"));
            assert!(!error.to_string().contains("198.51"));
        }
    }
}

#[test]
fn errors_never_quote_the_file() {
    let secret = b"<html>TOPSECRET-198.51.100.1</html>";
    let error = parse_list(ListFormat::Stix, secret).unwrap_err().to_string();
    assert!(!error.contains("TOPSECRET"), "{error}");
    let error = parse_list(ListFormat::FireEye, b"TOPSECRET,columns\n1,2\n").unwrap_err().to_string();
    assert!(!error.contains("TOPSECRET"), "{error}");
}

#[test]
fn aws_ip_ranges_build_a_set_of_every_prefix() {
    let ranges = parse_aws_ip_ranges(&data("ip-ranges.json")).unwrap();
    assert_eq!(ranges.sync_token.as_deref(), Some("1718000000"));
    assert_eq!(ranges.create_date.as_deref(), Some("2024-06-10-06-13-20"));
    assert_eq!(ranges.bad_prefixes, 1);
    assert_eq!(ranges.set.len(), 4, "the S3 duplicate of an AMAZON prefix counts once");
    for inside in ["3.5.140.1", "3.5.143.255", "52.95.245.17", "2600:1f18::1", "::ffff:52.95.245.17"] {
        assert!(ranges.set.contains(ip(inside)), "{inside}");
    }
    for outside in ["3.5.144.0", "198.51.100.7", "2600:1f18:8000::1", "2001:db8::1"] {
        assert!(!ranges.set.contains(ip(outside)), "{outside}");
    }
    assert!(parse_aws_ip_ranges(b"{\"prefixes\": []}").is_err());
    assert!(parse_aws_ip_ranges(b"not json").is_err());
    assert!(parse_aws_ip_ranges(b"{\"prefixes\": [{\"region\": \"x\"}]}").is_err());
}

#[test]
fn ip_nets_parse_strictly() {
    let net = |s: &str| s.parse::<IpNet>();
    assert_eq!(net("198.51.100.7/24").unwrap().to_string(), "198.51.100.0/24");
    assert_eq!(net("2001:db8::ff/120").unwrap().to_string(), "2001:db8::/120");
    assert_eq!(net("::ffff:198.51.100.7").unwrap().prefix, 128);
    for bad in [
        "198.51.100.7/33",
        "2001:db8::/129",
        "198.51.100.7/",
        "198.51.100.7/-1",
        "198.51.100.7/ 8",
        "010.1.1.1",
        "198.51.100",
        "fe80::1%eth0",
        "[2001:db8::1]",
        " 198.51.100.7",
        "198.51.100.7/24/8",
    ] {
        let error = net(bad).expect_err(bad);
        assert!(!error.contains(bad.trim()), "errors do not echo input: {error}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// H6 fuzzes this properly; here every format at least survives arbitrary bytes.
    #[test]
    fn every_format_is_total_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for format in ListFormat::ALL {
            if let Ok(list) = parse_list(format, &bytes) {
                prop_assert!(list.first_bad_lines.len() as u64 <= list.bad_lines.min(10));
            }
        }
    }

    /// Text shaped like the formats (separators, quotes, tags) rather than random bytes.
    #[test]
    fn every_format_is_total_on_list_like_text(text in "[0-9a-f:./#,;\"<>= \\n\\r-]{0,300}") {
        for format in ListFormat::ALL {
            let _ = parse_list(format, text.as_bytes());
        }
    }
}
