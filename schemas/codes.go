package schemas

import (
	"errors"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Format names asserted by the compiler returned by [Compiler]. Other JSON Schema validators
// treat unknown formats as annotations; the schemas pair each format with a pattern.
const (
	FormatCurrency = "iso4217-currency" // an active ISO 4217 alphabetic currency code
	FormatCountry  = "iso3166-alpha2"   // an officially assigned ISO 3166-1 alpha-2 country code
)

// currencyCodes lists the active ISO 4217 alphabetic codes of currencies used in payments
// (as of 2025). Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals,
// bond-market units, SDR and the testing and "no currency" codes (XTS, XXX) are left out:
// they are not something an order is paid in.
const currencyCodes = "" +
	"AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL " +
	"BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP " +
	"ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR " +
	"IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL " +
	"LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR " +
	"NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD " +
	"SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX " +
	"USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"

// countryCodes lists the 249 officially assigned ISO 3166-1 alpha-2 codes.
const countryCodes = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ " +
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ " +
	"DE DJ DK DM DO DZ " +
	"EC EE EG EH ER ES ET " +
	"FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY " +
	"HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT " +
	"JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ " +
	"LA LB LC LI LK LR LS LT LU LV LY " +
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ " +
	"OM " +
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
	"QA " +
	"RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ " +
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ " +
	"VA VC VE VG VI VN VU " +
	"WF WS " +
	"YE YT " +
	"ZA ZM ZW"

var (
	currencies = codeSet(currencyCodes)
	countries  = codeSet(countryCodes)
)

func codeSet(list string) map[string]struct{} {
	fields := strings.Fields(list)
	set := make(map[string]struct{}, len(fields))
	for _, f := range fields {
		set[f] = struct{}{}
	}
	return set
}

// IsCurrency reports whether code is an active ISO 4217 currency code podium accepts
// (upper case, e.g. "EUR").
func IsCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}

// IsCountry reports whether code is an ISO 3166-1 alpha-2 country code (upper case, e.g. "DE").
func IsCountry(code string) bool {
	_, ok := countries[code]
	return ok
}

var (
	errCurrency = errors.New("not an ISO 4217 currency code")
	errCountry  = errors.New("not an ISO 3166-1 alpha-2 country code")
)

// Format validators ignore non-strings: "type" reports those.
var (
	currencyFormat = &jsonschema.Format{Name: FormatCurrency, Validate: func(v any) error {
		if s, ok := v.(string); ok && !IsCurrency(s) {
			return errCurrency
		}
		return nil
	}}
	countryFormat = &jsonschema.Format{Name: FormatCountry, Validate: func(v any) error {
		if s, ok := v.(string); ok && !IsCountry(s) {
			return errCountry
		}
		return nil
	}}
)
