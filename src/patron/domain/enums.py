"""Closed value sets of the Customer API. Values are the wire strings: they round-trip as is."""

from __future__ import annotations

from enum import StrEnum


class TaxStatus(StrEnum):
    TAXED = "TAXED"
    TAX_EXEMPT = "TAX_EXEMPT"
    REVERSE_CHARGED = "REVERSE_CHARGED"


class CustomerStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"


class BillingPreference(StrEnum):
    PRIMARY = "PRIMARY"
    STANDARD = "STANDARD"
    NONE = "NONE"

    @property
    def gets_billing_mail(self) -> bool:
        return self is not BillingPreference.NONE


class IntegrationService(StrEnum):
    AMAZON_REDSHIFT = "Amazon_Redshift"
    GOCARDLESS = "GoCardless"
    GOOGLE_BIGQUERY = "Google_BigQuery"
    GOOGLE_SHEETS = "Google_Sheets"
    HUBSPOT = "HubSpot"
    NETSUITE = "NetSuite"
    QUICKBOOKS_ONLINE = "QuickBooks_Online"
    SALESFORCE = "Salesforce"
    SLACK = "Slack"
    SNOWFLAKE = "Snowflake"
    STRIPE = "Stripe"
    XERO = "Xero"
    AVALARA = "Avalara"
    ANROK = "Anrok"
    ATTIO = "Attio"
    NUMERAL = "Numeral"
    RILLET = "Rillet"
    SPHERE = "Sphere"


class PushIntegration(StrEnum):
    """Integrations a create or update may ask Patron to push the customer to."""

    XERO = "Xero"


class SortOrder(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class BillingStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


# ISO 3166-1 alpha-2 as the contract lists them (250 codes, with XK).
COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS XK YE YT ZA ZM ZW
""".split()  # noqa: SIM905 (a word list reads better than 250 quoted strings)

# US states and Canadian provinces and territories (64 codes).
STATE_CODES = """
    AL AK AZ AR CA CO CT DC DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH
    NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AB BC MB NB NL NS NT NU ON
    PE QC SK YT
""".split()  # noqa: SIM905 (a word list reads better than 250 quoted strings)

CountryCode = StrEnum("CountryCode", {c: c for c in COUNTRY_CODES})  # type: ignore[misc]
StateCode = StrEnum("StateCode", {c: c for c in STATE_CODES})  # type: ignore[misc]

# Countries whose addresses must name a state or province.
COUNTRIES_REQUIRING_STATE = frozenset({"US", "CA"})
CANADIAN_PROVINCES = frozenset(STATE_CODES[STATE_CODES.index("AB") :])
