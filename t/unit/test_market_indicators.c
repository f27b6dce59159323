
/*
 * Copyright (C) Kianax
 */


#include <stdlib.h>
#include <string.h>

#include "core/kx_decimal.h"
#include "market/kx_indicators.h"
#include "market/kx_isqrt.h"

#include "kx_tap.h"
#include "kx_test_dec.h"


#define N        100
#define ABSENT   KX_IND_ABSENT_RAW
#define M        INT64_MAX


/*
 * Reference values for a realistic 100-close series, computed
 * independently in Python with the decimal module at 60 significant
 * digits from the textbook definitions (TA-Lib's seeding and warm-up),
 * each rounded once, half to even, to 8 places.  The generator is at
 * the end of this file.  NULL marks a warm-up bar.
 */

static const char *ref_close[100] = {
    "189.91", "192.07", "189.57", "188.95", "189.05", "194.53", "193.88",
    "192.03", "190.05", "191.06", "194.14", "188.06", "190.17", "183.94",
    "184.20", "182.90", "178.84", "175.86", "177.55", "179.35", "179.15",
    "180.27", "183.97", "182.21", "187.91", "183.79", "181.17", "177.65",
    "178.22", "182.01", "185.32", "175.44", "176.18", "177.07", "174.25",
    "182.10", "181.83", "184.14", "185.19", "180.98", "178.92", "180.10",
    "181.12", "176.04", "173.08", "171.42", "173.85", "173.71", "173.00",
    "173.02", "171.78", "169.74", "168.46", "164.82", "161.62", "156.05",
    "152.97", "155.28", "157.57", "154.93", "152.98", "153.61", "154.68",
    "156.30", "156.82", "157.73", "153.27", "152.60", "154.65", "155.23",
    "154.85", "153.21", "153.55", "150.44", "150.04", "147.93", "149.41",
    "153.26", "151.71", "151.16", "147.64", "149.93", "150.30", "156.87",
    "154.47", "150.25", "146.70", "145.74", "142.53", "142.06", "140.38",
    "140.89", "140.77", "141.16", "137.54", "138.93", "142.20", "143.21",
    "148.32", "148.73",
};

static const char *ref_sma20[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, "187.30550000", "186.76750000",
    "186.17750000", "185.89750000", "185.56050000", "185.50350000",
    "184.96650000", "184.33100000", "183.61200000", "183.02050000",
    "182.56800000", "182.12700000", "181.49600000", "180.79650000",
    "180.45300000", "179.95550000", "179.91550000", "180.06500000",
    "180.47900000", "180.86100000", "180.94250000", "180.93100000",
    "180.92250000", "180.78000000", "180.47150000", "179.73000000",
    "179.11150000", "178.74550000", "178.54850000", "178.28750000",
    "177.83800000", "177.16100000", "176.87600000", "176.49000000",
    "175.87750000", "175.24600000", "173.94350000", "172.50050000",
    "171.05750000", "169.67650000", "168.37400000", "167.07700000",
    "165.75250000", "164.43050000", "163.44350000", "162.63050000",
    "161.94600000", "160.91700000", "159.86150000", "158.94400000",
    "158.05450000", "157.20800000", "156.38150000", "155.63600000",
    "154.91700000", "154.33800000", "153.93200000", "153.75400000",
    "153.65300000", "153.36000000", "153.17150000", "152.90450000",
    "152.72050000", "152.50150000", "152.53000000", "152.41250000",
    "152.03850000", "151.71000000", "151.36700000", "150.76100000",
    "150.10250000", "149.37900000", "148.76300000", "148.12400000",
    "147.66000000", "147.03500000", "146.58500000", "146.22450000",
    "145.72200000", "145.55250000", "145.43100000",
};

static const char *ref_ema10[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "191.11000000",
    "191.66090909", "191.00619835", "190.85416228", "189.59704187",
    "188.61576153", "187.57653216", "185.98807177", "184.14660417",
    "182.94722160", "182.29318131", "181.72169380", "181.45774947",
    "181.91452229", "181.96824551", "183.04856451", "183.18337096",
    "182.81730352", "181.87779379", "181.21274037", "181.35769667",
    "182.07811545", "180.87118537", "180.01824258", "179.48219847",
    "178.53088966", "179.17981881", "179.66166994", "180.47591177",
    "181.33301872", "181.26883350", "180.84177286", "180.70690507",
    "180.78201324", "179.91982901", "178.67622374", "177.35691033",
    "176.71929027", "176.17214658", "175.59539266", "175.12713945",
    "174.51856864", "173.64973798", "172.70614926", "171.27230394",
    "169.51733958", "167.06873239", "164.50532650", "162.82799441",
    "161.87199542", "160.60981444", "159.22257545", "158.20210719",
    "157.56172406", "157.33231969", "157.23917065", "157.32841235",
    "156.59051920", "155.86497025", "155.64406657", "155.56878174",
    "155.43809415", "155.03298612", "154.76335228", "153.97728823",
    "153.26141764", "152.29206898", "151.76805644", "152.03931890",
    "151.97944274", "151.83045315", "151.06855258", "150.86154302",
    "150.75944429", "151.87045442", "152.34309907", "151.96253560",
    "151.00571095", "150.04830896", "148.68134369", "147.47746302",
    "146.18701520", "145.22392153", "144.41411761", "143.82245986",
    "142.68019443", "141.99834090", "142.03500619", "142.24864143",
    "143.35252481", "144.33024757",
};

static const char *ref_rsi14[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, "41.63002052", "39.98873557", "35.30701270", "32.31636379",
    "35.64555057", "39.08245425", "38.83428596", "41.09021082", "47.92345763",
    "45.23554532", "54.19577879", "48.07324688", "44.62106044", "40.42127722",
    "41.38338690", "47.45888284", "52.12585796", "40.54818586", "41.59454530",
    "42.89628198", "39.86448786", "50.37823433", "50.05408524", "52.84934695",
    "54.10663393", "48.52006040", "46.01638890", "47.68175103", "49.14226793",
    "42.74253453", "39.51355374", "37.78939902", "41.79332297", "41.62709505",
    "40.74207081", "40.78026540", "39.09765912", "36.43426386", "34.83096367",
    "30.69439684", "27.59204069", "23.19707339", "21.18738219", "26.34161769",
    "31.14877529", "28.81411053", "27.19284704", "28.59080194", "31.01356383",
    "34.62976470", "35.79320168", "37.87691775", "32.33773956", "31.59034539",
    "36.43146686", "37.77319613", "37.21891927", "34.84263219", "35.75837064",
    "31.40986409", "30.88955862", "28.23279252", "32.61098329", "42.44702012",
    "39.92071945", "39.03298061", "33.84554176", "39.48054042", "40.36441594",
    "53.38358487", "49.16144174", "42.75780725", "38.24471754", "37.10418163",
    "33.50603374", "33.00141174", "31.19300358", "32.40396619", "32.26009971",
    "33.29661883", "28.87939418", "32.57803107", "40.42701192", "42.64786452",
    "52.33052921", "53.01592840",
};

static const char *ref_macd[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "-3.54153230",
    "-3.68673866", "-3.13227939", "-2.68371694", "-2.11742196", "-1.56585270",
    "-1.45170753", "-1.51006435", "-1.44444575", "-1.29520672", "-1.56876353",
    "-2.00133638", "-2.44986113", "-2.57950461", "-2.66284916", "-2.75443992",
    "-2.79321399", "-2.89067842", "-3.09683227", "-3.32516555", "-3.75653589",
    "-4.30696524", "-5.13346156", "-5.96819843", "-6.36990740", "-6.42936704",
    "-6.61328138", "-6.83756434", "-6.88510724", "-6.75853706", "-6.45312126",
    "-6.09881404", "-5.67912818", "-5.64137853", "-5.60096068", "-5.34193289",
    "-5.03184636", "-4.76187148", "-4.62691257", "-4.44132468", "-4.49339884",
    "-4.51489969", "-4.64861233", "-4.58233463", "-4.17106481", "-3.92495808",
    "-3.73128520", "-3.81782314", "-3.65943750", "-3.46412753", "-2.74752710",
    "-2.34623015", "-2.34172422", "-2.59469850", "-2.83990971", "-3.25573148",
    "-3.58190830", "-3.93065756", "-4.11841658", "-4.22816036", "-4.23484667",
    "-4.48059981", "-4.51119728", "-4.22290530", "-3.86834144", "-3.13883025",
    "-2.49879920",
};

static const char *ref_signal[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "-4.04442905",
    "-3.97289097", "-3.80476866", "-3.58055831", "-3.28793104", "-2.94351537",
    "-2.64515380", "-2.41813591", "-2.22339788", "-2.03775965", "-1.94396043",
    "-1.95543562", "-2.05432072", "-2.15935750", "-2.26005583", "-2.35893265",
    "-2.44578892", "-2.53476682", "-2.64717991", "-2.78277704", "-2.97752881",
    "-3.24341609", "-3.62142519", "-4.09077984", "-4.54660535", "-4.92315769",
    "-5.26118243", "-5.57645881", "-5.83818850", "-6.02225821", "-6.10843082",
    "-6.10650746", "-6.02103161", "-5.94510099", "-5.87627293", "-5.76940492",
    "-5.62189321", "-5.44988886", "-5.28529360", "-5.11649982", "-4.99187962",
    "-4.89648364", "-4.84690938", "-4.79399443", "-4.66940850", "-4.52051842",
    "-4.36267178", "-4.25370205", "-4.13484914", "-4.00070482", "-3.75006927",
    "-3.46930145", "-3.24378600", "-3.11396850", "-3.05915674", "-3.09847169",
    "-3.19515901", "-3.34225872", "-3.49749030", "-3.64362431", "-3.76186878",
    "-3.90561499", "-4.02673144", "-4.06596622", "-4.02644126", "-3.84891906",
    "-3.57889509",
};

static const char *ref_hist[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "0.50289675",
    "0.28615231", "0.67248927", "0.89684137", "1.17050909", "1.37766267",
    "1.19344628", "0.90807156", "0.77895213", "0.74255293", "0.37519689",
    "-0.04590076", "-0.39554041", "-0.42014711", "-0.40279333", "-0.39550727",
    "-0.34742507", "-0.35591160", "-0.44965236", "-0.54238851", "-0.77900708",
    "-1.06354914", "-1.51203637", "-1.87741860", "-1.82330205", "-1.50620935",
    "-1.35209896", "-1.26110553", "-1.04691874", "-0.73627885", "-0.34469044",
    "0.00769342", "0.34190343", "0.30372246", "0.27531225", "0.42747203",
    "0.59004685", "0.68801738", "0.65838103", "0.67517514", "0.49848078",
    "0.38158394", "0.19829705", "0.21165980", "0.49834370", "0.59556034",
    "0.63138657", "0.43587891", "0.47541164", "0.53657729", "1.00254218",
    "1.12307130", "0.90206178", "0.51927000", "0.21924704", "-0.15725979",
    "-0.38674929", "-0.58839884", "-0.62092629", "-0.58453605", "-0.47297789",
    "-0.57498482", "-0.48446583", "-0.15693908", "0.15809982", "0.71008881",
    "1.08009589",
};

static const char *ref_sd20[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, "5.64231555", "5.87645461",
    "5.90674773", "5.87192207", "5.88046722", "5.85182217", "5.47981503",
    "5.13543172", "5.01236032", "4.91479142", "4.55738916", "3.77603377",
    "3.78629687", "3.39084396", "3.40295328", "3.54322519", "3.51415491",
    "3.52879087", "3.49673405", "3.57238702", "3.55553916", "3.56168485",
    "3.56345461", "3.49506652", "3.62511417", "3.54355471", "3.84744886",
    "3.98010110", "4.12434271", "4.29836931", "4.35527336", "4.18879804",
    "4.47998594", "4.84133349", "5.46406248", "6.28399268", "7.33944908",
    "8.40653346", "8.75448107", "8.59319689", "8.75391535", "9.01313935",
    "8.94820981", "8.52319100", "8.26055947", "8.07008703", "7.87373761",
    "7.59047370", "7.19560927", "6.60772003", "5.80118563", "4.90215932",
    "4.03667100", "2.97410558", "2.33687205", "2.01704636", "2.41043896",
    "2.59897749", "2.57686845", "2.44458995", "2.46155291", "2.74153146",
    "2.81062889", "2.82004127", "2.86087050", "2.72740696", "2.47364160",
    "2.71295780", "2.99748745", "3.46170753", "3.78636617", "4.17283225",
    "4.46121071", "4.64141293", "4.84603859", "5.28497540", "5.56533602",
    "5.60405074", "5.39743698", "5.25816211", "5.15423408",
};

static const char *ref_bb_upper[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, "198.59013110", "198.52040921",
    "197.99099546", "197.64134413", "197.32143444", "197.20714435",
    "195.92613006", "194.60186345", "193.63672064", "192.85008285",
    "191.68277833", "189.67906753", "189.06859374", "187.57818792",
    "187.25890655", "187.04195038", "186.94380983", "187.12258174",
    "187.47246810", "188.00577403", "188.05357833", "188.05436971",
    "188.04940922", "187.77013305", "187.72172834", "186.81710942",
    "186.80639773", "186.70570220", "186.79718541", "186.88423863",
    "186.54854671", "185.53859608", "185.83597187", "186.17266699",
    "186.80562495", "187.81398536", "188.62239815", "189.31356691",
    "188.56646213", "186.86289378", "185.88183071", "185.10327871",
    "183.64891961", "181.47688199", "179.96461894", "178.77067407",
    "177.69347523", "176.09794740", "174.25271854", "172.15944006",
    "169.65687127", "167.01231864", "164.45484200", "161.58421116",
    "159.59074411", "158.37209271", "158.75287793", "158.95195498",
    "158.80673690", "158.24917989", "158.09460583", "158.38756292",
    "158.34175778", "158.14158253", "158.25174099", "157.86731393",
    "156.98578319", "157.13591559", "157.36197490", "157.68441505",
    "157.67523233", "157.72466450", "157.68542142", "157.40682586",
    "157.35207718", "157.60495080", "157.71567204", "157.43260149",
    "156.51687397", "156.06882422", "155.73946817",
};

static const char *ref_bb_middle[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, "187.30550000", "186.76750000",
    "186.17750000", "185.89750000", "185.56050000", "185.50350000",
    "184.96650000", "184.33100000", "183.61200000", "183.02050000",
    "182.56800000", "182.12700000", "181.49600000", "180.79650000",
    "180.45300000", "179.95550000", "179.91550000", "180.06500000",
    "180.47900000", "180.86100000", "180.94250000", "180.93100000",
    "180.92250000", "180.78000000", "180.47150000", "179.73000000",
    "179.11150000", "178.74550000", "178.54850000", "178.28750000",
    "177.83800000", "177.16100000", "176.87600000", "176.49000000",
    "175.87750000", "175.24600000", "173.94350000", "172.50050000",
    "171.05750000", "169.67650000", "168.37400000", "167.07700000",
    "165.75250000", "164.43050000", "163.44350000", "162.63050000",
    "161.94600000", "160.91700000", "159.86150000", "158.94400000",
    "158.05450000", "157.20800000", "156.38150000", "155.63600000",
    "154.91700000", "154.33800000", "153.93200000", "153.75400000",
    "153.65300000", "153.36000000", "153.17150000", "152.90450000",
    "152.72050000", "152.50150000", "152.53000000", "152.41250000",
    "152.03850000", "151.71000000", "151.36700000", "150.76100000",
    "150.10250000", "149.37900000", "148.76300000", "148.12400000",
    "147.66000000", "147.03500000", "146.58500000", "146.22450000",
    "145.72200000", "145.55250000", "145.43100000",
};

static const char *ref_bb_lower[100] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, "176.02086890", "175.01459079",
    "174.36400454", "174.15365587", "173.79956556", "173.79985565",
    "174.00686994", "174.06013655", "173.58727936", "173.19091715",
    "173.45322167", "174.57493247", "173.92340626", "174.01481208",
    "173.64709345", "172.86904962", "172.88719017", "173.00741826",
    "173.48553190", "173.71622597", "173.83142167", "173.80763029",
    "173.79559078", "173.78986695", "173.22127166", "172.64289058",
    "171.41660227", "170.78529780", "170.29981459", "169.69076137",
    "169.12745329", "168.78340392", "167.91602813", "166.80733301",
    "164.94937505", "162.67801464", "159.26460185", "155.68743309",
    "153.54853787", "152.49010622", "150.86616929", "149.05072129",
    "147.85608039", "147.38411801", "146.92238106", "146.49032593",
    "146.19852477", "145.73605260", "145.47028146", "145.72855994",
    "146.45212873", "147.40368136", "148.30815800", "149.68778884",
    "150.24325589", "150.30390729", "149.11112207", "148.55604502",
    "148.49926310", "148.47082011", "148.24839417", "147.42143708",
    "147.09924222", "146.86141747", "146.80825901", "146.95768607",
    "147.09121681", "146.28408441", "145.37202510", "143.83758495",
    "142.52976767", "141.03333550", "139.84057858", "138.84117414",
    "137.96792282", "136.46504920", "135.45432796", "135.01639851",
    "134.92712603", "135.03617578", "135.12253183",
};


static void
decs(const char *list, kx_dec_t *out, size_t *n)
{
    char        buf[64];
    size_t      k;
    const char *p, *e;

    *n = 0;
    p = list;

    while (*p) {
        e = strchr(p, ' ');
        k = e ? (size_t) (e - p) : strlen(p);
        memcpy(buf, p, k);
        buf[k] = '\0';
        out[(*n)++] = dec(buf);
        p += k + (e != NULL);
    }
}


static void
load(const char **strs, size_t n, kx_dec_t *out)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        out[i].v = strs[i] ? dec(strs[i]).v : ABSENT;
    }
}


static int64_t
absdiff(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}


/*
 * got against want, bar by bar: absent exactly where want is, values
 * within tol raw units (10^-8); reports the largest difference
 */
static void
series_is(const char *name, const kx_dec_t *got, const kx_dec_t *want,
    size_t n, int64_t tol)
{
    size_t   i, bad, exact, values;
    int64_t  d, max;
    char     g[KX_DEC_FMT_MAX], w[KX_DEC_FMT_MAX];

    bad = (size_t) -1;
    max = 0;
    exact = 0;
    values = 0;

    for (i = 0; i < n; i++) {
        if (kx_ind_absent(want[i]) || kx_ind_absent(got[i])) {
            if (got[i].v != want[i].v && bad == (size_t) -1) {
                bad = i;
            }
            continue;
        }

        values++;
        d = absdiff(got[i].v, want[i].v);
        exact += d == 0;

        if (d > max) {
            max = d;
        }

        if (d > tol && bad == (size_t) -1) {
            bad = i;
        }
    }

    if (ok(bad == (size_t) -1, "%s: %zu values, %zu exact, max diff %"
           PRId64 "e-8 (tolerance %" PRId64 "e-8)", name, values, exact,
           max, tol))
    {
        return;
    }

    if (kx_ind_absent(got[bad])) {
        strcpy(g, "absent");

    } else {
        kx_dec_format(got[bad], 8, g, sizeof(g));
    }

    if (kx_ind_absent(want[bad])) {
        strcpy(w, "absent");

    } else {
        kx_dec_format(want[bad], 8, w, sizeof(w));
    }

    diag("  first mismatch at %zu: got %s, want %s", bad, g, w);
}


/* a short series against a list of expected values ("-" for absent) */
static void
short_is(const char *name, const kx_dec_t *got, size_t n, const char *want)
{
    size_t    i, k;
    kx_dec_t  w[64];
    char      buf[64];
    const char *p, *e;

    p = want;
    k = 0;

    while (*p && k < 64) {
        e = strchr(p, ' ');
        i = e ? (size_t) (e - p) : strlen(p);
        memcpy(buf, p, i);
        buf[i] = '\0';
        w[k++].v = strcmp(buf, "-") == 0 ? ABSENT : dec(buf).v;
        p += i + (e != NULL);
    }

    if (k != n) {
        ok(0, "%s: %zu expected values for %zu bars", name, k, n);
        return;
    }

    series_is(name, got, w, n, 0);
}


static void
test_isqrt(void)
{
    unsigned __int128  big;

    is_int((int64_t) kx_isqrt64(0), 0, "isqrt64(0)");
    is_int((int64_t) kx_isqrt64(1), 1, "isqrt64(1)");
    is_int((int64_t) kx_isqrt64(15), 3, "isqrt64(15)");
    is_int((int64_t) kx_isqrt64(16), 4, "isqrt64(16)");
    is_int((int64_t) kx_isqrt64(UINT64_MAX), INT64_C(4294967295),
           "isqrt64(2^64-1)");

    big = (unsigned __int128) UINT64_MAX * UINT64_MAX;
    ok(kx_isqrt128(big) == UINT64_MAX, "isqrt128((2^64-1)^2)");
    ok(kx_isqrt128(big - 1) == UINT64_MAX - 1, "isqrt128((2^64-1)^2 - 1)");
    ok(kx_isqrt128(~(unsigned __int128) 0) == UINT64_MAX,
       "isqrt128(2^128-1)");

    ok(kx_isqrt128_scaled(2, 100000000) == 141421356,
       "floor(sqrt(2) 10^8) = 141421356");
    ok(kx_isqrt128_scaled(4, 100000000) == 200000000,
       "floor(sqrt(4) 10^8) = 200000000");
    ok(kx_isqrt128_scaled((unsigned __int128) 1 << 100, 1000000000)
       == (unsigned __int128) 1000000000 << 50,
       "floor(sqrt(2^100) 10^9) = 2^50 10^9");
}


static void
test_lookbacks(void)
{
    is_int(kx_ind_sma_lookback(20), 19, "SMA(20) lookback 19");
    is_int(kx_ind_ema_lookback(10), 9, "EMA(10) lookback 9");
    is_int(kx_ind_rsi_lookback(14), 14, "RSI(14) lookback 14");
    is_int(kx_ind_macd_lookback(12, 26, 9), 33, "MACD(12,26,9) lookback 33");
    is_int(kx_ind_macd_lookback(26, 12, 9), 33, "MACD(26,12,9) swaps: 33");
    is_int(kx_ind_macd_lookback(12, 26, 1), 25, "MACD signal 1: 25");
    is_int(kx_ind_bbands_lookback(20), 19, "BBANDS(20) lookback 19");

    is_int(kx_ind_sma_lookback(1), -1, "SMA(1) is invalid (TA-Lib: >= 2)");
    is_int(kx_ind_ema_lookback(1), -1, "EMA(1) is invalid");
    is_int(kx_ind_rsi_lookback(1), -1, "RSI(1) is invalid");
    is_int(kx_ind_bbands_lookback(1), -1, "BBANDS(1) is invalid");
    is_int(kx_ind_macd_lookback(1, 26, 9), -1, "MACD fast 1 is invalid");
    is_int(kx_ind_macd_lookback(12, 26, 0), -1, "MACD signal 0 is invalid");
    is_int(kx_ind_sma_lookback(0), -1, "SMA(0) is invalid");
    is_int(kx_ind_sma_lookback(100000), 99999, "SMA(100000) is valid");
    is_int(kx_ind_sma_lookback(100001), -1, "SMA(100001) is invalid");
}


static void
test_params(void)
{
    int       rc;
    size_t    n, i;
    kx_dec_t  in[8], a[8], b[8], c[8], two;

    decs("1 2 3 4 5", in, &n);
    two = dec("2");

    for (i = 0; i < 8; i++) {
        a[i].v = 777;
    }

    rc = kx_ind_sma(in, n, 1, a);
    ok(rc == KX_IND_EINVAL && a[0].v == 777, "SMA period 1: EINVAL, "
       "nothing written");
    ok(kx_ind_ema(in, n, 1, a) == KX_IND_EINVAL, "EMA period 1: EINVAL");
    ok(kx_ind_rsi(in, n, 1, a) == KX_IND_EINVAL, "RSI period 1: EINVAL");
    ok(kx_ind_stddev(in, n, 1, a) == KX_IND_EINVAL,
       "STDDEV period 1: EINVAL");
    ok(kx_ind_bbands(in, n, 1, two, two, a, b, c) == KX_IND_EINVAL,
       "BBANDS period 1: EINVAL");
    ok(kx_ind_macd(in, n, 1, 3, 1, a, b, c) == KX_IND_EINVAL,
       "MACD fast 1: EINVAL");
    ok(kx_ind_macd(in, n, 2, 3, 0, a, b, c) == KX_IND_EINVAL,
       "MACD signal 0: EINVAL");
    ok(kx_ind_sma(in, n, 100001, a) == KX_IND_EINVAL,
       "SMA period 100001: EINVAL");
    ok(kx_ind_bbands(in, n, 2, dec("100.00000001"), two, a, b, c)
       == KX_IND_EINVAL, "BBANDS multiplier above 100: EINVAL");
    ok(kx_ind_sma(in, n, 2, NULL) == KX_IND_EINVAL, "NULL output: EINVAL");
    ok(kx_ind_sma(NULL, 0, 2, NULL) == KX_IND_OK, "empty series: OK");
    ok(kx_ind_macd(NULL, 0, 12, 26, 9, NULL, NULL, NULL) == KX_IND_OK,
       "empty MACD: OK");

    in[2].v = INT64_MIN;
    ok(kx_ind_sma(in, n, 2, a) == KX_IND_EINVAL,
       "an input that is not a decimal: EINVAL");
    ok(kx_ind_rsi(in, n, 2, a) == KX_IND_EINVAL, "... for RSI too");
}


static void
test_sma(void)
{
    size_t    n;
    kx_dec_t  in[16], out[16];

    decs("1 2 3 4 5", in, &n);
    ok(kx_ind_sma(in, n, 3, out) == KX_IND_OK, "SMA(3) runs");
    short_is("SMA(3) of 1..5", out, n, "- - 2 3 4");

    ok(kx_ind_sma(in, n, 5, out) == KX_IND_OK, "SMA(5) of 5 closes");
    short_is("SMA(5) of 1..5: one value, at index 4", out, n, "- - - - 3");

    ok(kx_ind_sma(in, 4, 5, out) == KX_IND_OK, "SMA(5) of 4 closes");
    short_is("SMA(5) of 4 closes: none", out, 4, "- - - -");

    decs("1 2 2", in, &n);
    kx_ind_sma(in, n, 3, out);
    short_is("SMA(3) of 1 2 2 = 5/3 rounded", out, n, "- - 1.66666667");

    /* exact halves of the last place go to the even neighbour */
    decs("0.00000001 0.00000002 0.00000003", in, &n);
    kx_ind_sma(in, n, 2, out);
    short_is("SMA(2) ties round half to even", out, n,
             "- 0.00000002 0.00000002");

    decs("-1 -2 -4", in, &n);
    kx_ind_sma(in, n, 2, out);
    short_is("SMA(2) of negatives", out, n, "- -1.5 -3");
}


static void
test_ema(void)
{
    size_t    n;
    kx_dec_t  in[16], out[16];

    decs("1 2 3 4 5", in, &n);
    ok(kx_ind_ema(in, n, 3, out) == KX_IND_OK, "EMA(3) runs");
    short_is("EMA(3) of 1..5 (k = 1/2, seed 2)", out, n, "- - 2 3 4");

    decs("10 11 12 13 20", in, &n);
    kx_ind_ema(in, n, 2, out);
    short_is("EMA(2), k = 2/3", out, n, "- 10.5 11.5 12.5 17.5");

    decs("1 2 4", in, &n);
    kx_ind_ema(in, n, 2, out);
    short_is("EMA(2) of 1 2 4: 19/6 rounded", out, n, "- 1.5 3.16666667");

    decs("1 2 3", in, &n);
    kx_ind_ema(in, n, 3, out);
    short_is("EMA(3) of 3 closes: the seed only", out, n, "- - 2");
    kx_ind_ema(in, 2, 3, out);
    short_is("EMA(3) of 2 closes: none", out, 2, "- -");
}


static void
test_rsi(void)
{
    size_t    n;
    kx_dec_t  in[32], out[32];

    decs("1 2 1 2", in, &n);
    ok(kx_ind_rsi(in, n, 2, out) == KX_IND_OK, "RSI(2) runs");
    short_is("RSI(2) of 1 2 1 2: 50 then Wilder's 75", out, n,
             "- - 50 75");

    decs("1 2 3 4 5 6", in, &n);
    kx_ind_rsi(in, n, 3, out);
    short_is("RSI(3) of a rising series: 100", out, n, "- - - 100 100 100");

    decs("6 5 4 3 2 1", in, &n);
    kx_ind_rsi(in, n, 3, out);
    short_is("RSI(3) of a falling series: 0", out, n, "- - - 0 0 0");

    decs("5 5 5 5 5", in, &n);
    kx_ind_rsi(in, n, 2, out);
    short_is("RSI(2) of a flat series: 0 (both averages 0)", out, n,
             "- - 0 0 0");

    decs("5 5 5 6", in, &n);
    kx_ind_rsi(in, n, 2, out);
    short_is("RSI(2): flat, then a gain after the warm-up", out, n,
             "- - 0 100");

    decs("1 2 3", in, &n);
    kx_ind_rsi(in, n, 3, out);
    short_is("RSI(3) of 3 closes (lookback 3): none", out, n, "- - -");
    decs("1 2 3 2", in, &n);
    kx_ind_rsi(in, n, 3, out);
    short_is("RSI(3) of 4 closes: one, at index 3", out, n,
             "- - - 66.66666667");
}


static void
test_macd(void)
{
    size_t    n, i;
    kx_dec_t  in[64], m[64], s[64], h[64];

    /* constant: every line is 0 from index 33 */
    for (i = 0; i < 40; i++) {
        in[i] = dec("101.25");
    }

    ok(kx_ind_macd(in, 40, 12, 26, 9, m, s, h) == KX_IND_OK,
       "MACD(12,26,9) of a constant runs");
    ok(kx_ind_absent(m[32]) && kx_ind_absent(s[32]) && kx_ind_absent(h[32])
       && m[33].v == 0 && s[33].v == 0 && h[33].v == 0 && m[39].v == 0,
       "MACD of a constant: absent to 32, all 0 from 33");

    ok(kx_ind_macd(in, 33, 12, 26, 9, m, s, h) == KX_IND_OK
       && kx_ind_absent(m[32]) && kx_ind_absent(s[32]),
       "MACD of 33 closes: none");
    ok(kx_ind_macd(in, 34, 12, 26, 9, m, s, h) == KX_IND_OK
       && !kx_ind_absent(m[33]) && kx_ind_absent(m[32]),
       "MACD of 34 closes: one, at index 33");

    /*
     * By hand, fast 2, slow 3, signal 2 on 1 2 4 8 16: k = 2/3 and 1/2.
     * At 2 (slow - 1): slow = 7/3, fast = mean(2, 4) = 3 (TA-Lib's
     * aligned seed, not an EMA(2) from index 1), line = 2/3.
     * At 3: fast = 3 + 2/3 5 = 19/3, slow = 7/3 + 1/2 17/3 = 31/6,
     * line = 7/6; signal = mean(2/3, 7/6) = 11/12, hist = 1/4.
     * At 4: fast = 19/3 + 2/3 29/3 = 115/9, slow = 31/6 + 1/2 65/6
     * = 127/12, line = 79/36; signal = 11/12 + 2/3 (79/36 - 11/12)
     * = 191/108 = 1.76851851..., hist = 46/108 = 0.42592592...
     */
    decs("1 2 4 8 16", in, &n);
    ok(kx_ind_macd(in, n, 2, 3, 2, m, s, h) == KX_IND_OK,
       "MACD(2,3,2) runs");
    short_is("MACD(2,3,2) line", m, n, "- - - 1.16666667 2.19444444");
    short_is("MACD(2,3,2) signal", s, n, "- - - 0.91666667 1.76851852");
    short_is("MACD(2,3,2) histogram", h, n, "- - - 0.25 0.42592593");

    /* slow < fast is swapped, as TA-Lib does */
    kx_ind_macd(in, n, 3, 2, 2, m, s, h);
    short_is("MACD(3,2,2) is MACD(2,3,2)", m, n,
             "- - - 1.16666667 2.19444444");

    /* signal period 1: the signal is the line, the histogram 0 */
    ok(kx_ind_macd(in, n, 2, 3, 1, m, s, h) == KX_IND_OK,
       "MACD(2,3,1) runs");
    short_is("MACD(2,3,1) line from index 2", m, n,
             "- - 0.66666667 1.16666667 2.19444444");
    short_is("MACD(2,3,1) signal = line", s, n,
             "- - 0.66666667 1.16666667 2.19444444");
    short_is("MACD(2,3,1) histogram 0", h, n, "- - 0 0 0");

    /* a line wider than a kx_dec_t: ERANGE, everything absent */
    {
        kx_dec_t  big[104], bm[104], bs[104], bh[104];

        for (i = 0; i < 104; i++) {
            big[i].v = i < 99 ? -M : M;
        }

        ok(kx_ind_macd(big, 104, 2, 100, 1, bm, bs, bh) == KX_IND_ERANGE
           && kx_ind_absent(bm[103]) && kx_ind_absent(bs[99])
           && kx_ind_absent(bh[103]),
           "MACD beyond the decimal range: ERANGE, all absent");
    }
}


static void
test_stddev_bbands(void)
{
    size_t    n, i;
    kx_dec_t  in[16], sd[16], up[16], mid[16], lo[16], two;

    two = dec("2");

    decs("2 4 4 4 5 5 7 9", in, &n);
    ok(kx_ind_stddev(in, n, 8, sd) == KX_IND_OK, "STDDEV(8) runs");
    short_is("population sigma of 2 4 4 4 5 5 7 9 is 2", sd, n,
             "- - - - - - - 2");
    ok(kx_ind_bbands(in, n, 8, two, two, up, mid, lo) == KX_IND_OK,
       "BBANDS(8, 2) runs");
    short_is("BBANDS upper 9", up, n, "- - - - - - - 9");
    short_is("BBANDS middle 5", mid, n, "- - - - - - - 5");
    short_is("BBANDS lower 1", lo, n, "- - - - - - - 1");

    decs("0 0 1", in, &n);
    kx_ind_stddev(in, n, 3, sd);
    short_is("sigma of 0 0 1 = sqrt(2)/3, rounded from the exact root",
             sd, n, "- - 0.47140452");

    /* sigma of two closes 1 and 3 units apart: 0.5 and 1.5 units, ties
     * that go to the even neighbour */
    decs("0 0.00000001 0.00000004", in, &n);
    kx_ind_stddev(in, n, 2, sd);
    short_is("sigma ties round half to even", sd, n,
             "- 0 0.00000002");

    for (i = 0; i < 6; i++) {
        in[i] = dec("42.42");
    }

    kx_ind_bbands(in, 6, 3, two, two, up, mid, lo);
    short_is("BBANDS of a constant: upper = middle", up, 6,
             "- - 42.42 42.42 42.42 42.42");
    short_is("BBANDS of a constant: lower = middle", lo, 6,
             "- - 42.42 42.42 42.42 42.42");
    kx_ind_stddev(in, 6, 3, sd);
    short_is("sigma of a constant: 0", sd, 6, "- - 0 0 0 0");

    /* asymmetric multipliers, and a shift far from zero */
    decs("90000000000 90000000001 90000000003", in, &n);
    kx_ind_bbands(in, n, 3, dec("1"), dec("0.5"), up, mid, lo);
    short_is("BBANDS(3, 1, 0.5) middle, large prices", mid, n,
             "- - 90000000001.33333333");
    short_is("BBANDS(3, 1, 0.5) upper = middle + sqrt(14)/3", up, n,
             "- - 90000000002.58055246");
    short_is("BBANDS(3, 1, 0.5) lower = middle - sqrt(14)/6", lo, n,
             "- - 90000000000.70972377");

    /* a window spanning the whole decimal range cannot be squared */
    in[0].v = M;
    in[1].v = -M;
    ok(kx_ind_stddev(in, 2, 2, sd) == KX_IND_ERANGE && kx_ind_absent(sd[1]),
       "sigma over the whole range: ERANGE, absent");
}


static void
test_constant_series(void)
{
    size_t    i;
    kx_dec_t  in[30], out[30];

    for (i = 0; i < 30; i++) {
        in[i] = dec("19.99");
    }

    kx_ind_sma(in, 30, 20, out);
    ok(kx_ind_absent(out[18]) && out[19].v == in[0].v
       && out[29].v == in[0].v, "SMA(20) of a constant is the constant");
    kx_ind_ema(in, 30, 20, out);
    ok(kx_ind_absent(out[18]) && out[19].v == in[0].v
       && out[29].v == in[0].v, "EMA(20) of a constant is the constant");
    kx_ind_rsi(in, 30, 14, out);
    ok(kx_ind_absent(out[13]) && out[14].v == 0 && out[29].v == 0,
       "RSI(14) of a constant is 0 from index 14");
}


static void
test_reference(void)
{
    kx_dec_t  in[N], want[N], got[N], a[N], b[N], c[N], two;

    load(ref_close, N, in);
    two = dec("2");

    ok(kx_ind_sma(in, N, 20, got) == KX_IND_OK, "SMA(20) of 100 closes");
    load(ref_sma20, N, want);
    series_is("SMA(20) vs reference (exact)", got, want, N, 0);

    ok(kx_ind_ema(in, N, 10, got) == KX_IND_OK, "EMA(10) of 100 closes");
    load(ref_ema10, N, want);
    series_is("EMA(10) vs reference", got, want, N, 1);

    ok(kx_ind_rsi(in, N, 14, got) == KX_IND_OK, "RSI(14) of 100 closes");
    load(ref_rsi14, N, want);
    series_is("RSI(14) vs reference", got, want, N, 1);

    ok(kx_ind_macd(in, N, 12, 26, 9, a, b, c) == KX_IND_OK,
       "MACD(12,26,9) of 100 closes");
    load(ref_macd, N, want);
    series_is("MACD line vs reference", a, want, N, 1);
    load(ref_signal, N, want);
    series_is("MACD signal vs reference", b, want, N, 1);
    load(ref_hist, N, want);
    series_is("MACD histogram vs reference", c, want, N, 1);

    ok(kx_ind_stddev(in, N, 20, got) == KX_IND_OK, "STDDEV(20)");
    load(ref_sd20, N, want);
    series_is("STDDEV(20) vs reference (exact)", got, want, N, 0);

    ok(kx_ind_bbands(in, N, 20, two, two, a, b, c) == KX_IND_OK,
       "BBANDS(20, 2) of 100 closes");
    load(ref_bb_upper, N, want);
    series_is("BBANDS upper vs reference", a, want, N, 1);
    load(ref_bb_middle, N, want);
    series_is("BBANDS middle vs reference (exact)", b, want, N, 0);
    load(ref_bb_lower, N, want);
    series_is("BBANDS lower vs reference", c, want, N, 1);
}


/* a long series: O(n), and the sliding sums agree with fresh ones */
static void
test_long(void)
{
    size_t     i, k, len, bad;
    int64_t    x;
    __int128   sum;
    kx_dec_t  *in, *out, *a, *b;

    len = 1000000;
    in = malloc(len * sizeof(kx_dec_t));
    out = malloc(len * sizeof(kx_dec_t));
    a = malloc(len * sizeof(kx_dec_t));
    b = malloc(len * sizeof(kx_dec_t));

    if (in == NULL || out == NULL || a == NULL || b == NULL) {
        ok(0, "memory for the long series");
        return;
    }

    x = INT64_C(10000000000);

    for (i = 0; i < len; i++) {
        x += (int64_t) ((i * 2654435761u) % 2000001) - 1000000;
        in[i].v = x > 100000000 ? x : 100000000 + (int64_t) (i % 7);
    }

    ok(kx_ind_sma(in, len, 200, out) == KX_IND_OK, "SMA(200) of 10^6");

    bad = 0;

    for (i = 199; i < len; i += 99991) {
        sum = 0;

        for (k = i + 1 - 200; k <= i; k++) {
            sum += in[k].v;
        }

        /* these sums are all positive: plain half-up is half-even
         * except on exact ties, checked separately above */
        if (absdiff(out[i].v, (int64_t) ((sum + 100) / 200)) > 1) {
            bad++;
        }
    }

    ok(bad == 0, "SMA(200) far along the series matches a fresh sum");

    ok(kx_ind_ema(in, len, 200, out) == KX_IND_OK, "EMA(200) of 10^6");
    ok(kx_ind_rsi(in, len, 14, out) == KX_IND_OK, "RSI(14) of 10^6");
    ok(kx_ind_macd(in, len, 12, 26, 9, out, a, b) == KX_IND_OK,
       "MACD of 10^6");
    ok(kx_ind_bbands(in, len, 20, dec("2"), dec("2"), out, a, b)
       == KX_IND_OK, "BBANDS(20, 2) of 10^6");

    bad = 0;

    for (i = 19; i < len; i++) {
        if (out[i].v < a[i].v || b[i].v > a[i].v) {
            bad++;
        }
    }

    ok(bad == 0, "lower <= middle <= upper on every bar");

    free(in);
    free(out);
    free(a);
    free(b);
}


int
main(void)
{
    test_isqrt();
    test_lookbacks();
    test_params();
    test_sma();
    test_ema();
    test_rsi();
    test_macd();
    test_stddev_bbands();
    test_constant_series();
    test_reference();
    test_long();

    return kx_tap_done();
}

/*
 * The generator of the reference arrays (Python 3, standard library):
 *
 *     # Reference values for t/unit/test_market_indicators.c: Python decimal,
 *     # 60 significant digits, the textbook/TA-Lib definitions, each output
 *     # rounded once, half-even, to 8 places.
 *     import random
 *     from decimal import Decimal as D, getcontext, ROUND_HALF_EVEN
 *     getcontext().prec = 60
 *     Q = D('0.00000001')
 *     def r8(x):
 *         return None if x is None else x.quantize(Q, rounding=ROUND_HALF_EVEN)
 *
 *     def sma(x, n):
 *         return [None if i < n - 1 else sum(x[i-n+1:i+1]) / n
 *                 for i in range(len(x))]
 *
 *     def ema_from(x, n, start, seed):   # seed = value at index start
 *         out = [None] * len(x); k = D(2) / (n + 1); e = seed; out[start] = e
 *         for i in range(start + 1, len(x)):
 *             e = e + k * (x[i] - e); out[i] = e
 *         return out
 *
 *     def ema(x, n):
 *         if len(x) < n: return [None] * len(x)
 *         return ema_from(x, n, n - 1, sum(x[:n]) / n)
 *
 *     def rsi(x, n):
 *         out = [None] * len(x)
 *         if len(x) <= n: return out
 *         ch = [x[i] - x[i-1] for i in range(1, len(x))]
 *         g = sum(c for c in ch[:n] if c > 0) / n
 *         l = sum(-c for c in ch[:n] if c < 0) / n
 *         f = lambda g, l: D(0) if g + l == 0 else 100 * g / (g + l)
 *         out[n] = f(g, l)
 *         for i in range(n + 1, len(x)):
 *             c = ch[i-1]
 *             g = (g * (n - 1) + (c if c > 0 else 0)) / n
 *             l = (l * (n - 1) + (-c if c < 0 else 0)) / n
 *             out[i] = f(g, l)
 *         return out
 *
 *     def macd(x, fast, slow, sig):
 *         # TA-Lib: both EMAs start at slow-1; the fast one seeded with the
 *         # mean of x[slow-fast .. slow-1]; signal seeded with the mean of the
 *         # first `sig` MACD values; outputs from slow-1+sig-1
 *         if slow < fast: fast, slow = slow, fast
 *         lb = slow - 1 + sig - 1
 *         n = len(x)
 *         if n <= lb: return [None]*n, [None]*n, [None]*n
 *         fe = ema_from(x, fast, slow - 1, sum(x[slow-fast:slow]) / fast)
 *         se = ema_from(x, slow, slow - 1, sum(x[:slow]) / slow)
 *         line = [None if fe[i] is None else fe[i] - se[i] for i in range(n)]
 *         sg = ema_from(line, sig, lb, sum(line[slow-1:lb+1]) / sig)
 *         m = [None if i < lb else line[i] for i in range(n)]
 *         s = [None if i < lb else sg[i] for i in range(n)]
 *         h = [None if i < lb else line[i] - sg[i] for i in range(n)]
 *         return m, s, h
 *
 *     def stddev(x, n):
 *         out = [None] * len(x)
 *         for i in range(n - 1, len(x)):
 *             w = x[i-n+1:i+1]; mu = sum(w) / n
 *             out[i] = (sum((v - mu) ** 2 for v in w) / n).sqrt()
 *         return out
 *
 *     def bbands(x, n, ku, kd):
 *         mid = sma(x, n); sd = stddev(x, n)
 *         up = [None if m is None else m + ku * s for m, s in zip(mid, sd)]
 *         lo = [None if m is None else m - kd * s for m, s in zip(mid, sd)]
 *         return up, mid, lo
 *
 *     # TA-Lib's TA_MACD loop in doubles, to check the seeding reading above
 *     def talib_macd(x, fast, slow, sig):
 *         x = [float(v) for v in x]
 *         if slow < fast: fast, slow = slow, fast
 *         fk, sk, gk = 2.0/(fast+1), 2.0/(slow+1), 2.0/(sig+1)
 *         lbs = sig - 1; lbt = lbs + slow - 1; start = lbt
 *         today = start - lbt; t = 0.0
 *         for i in range(slow - fast): t += x[today]; today += 1
 *         pf = 0.0
 *         for i in range(fast): pf += x[today]; t += x[today]; today += 1
 *         ps = t / slow; pf = pf / fast
 *         while today <= start - lbs:
 *             v = x[today]; today += 1; pf = (v-pf)*fk+pf; ps = (v-ps)*sk+ps
 *         m = pf - ps; psg = m
 *         for i in range(sig - 1):
 *             v = x[today]; today += 1; pf = (v-pf)*fk+pf; ps = (v-ps)*sk+ps
 *             m = pf - ps; psg += m
 *         psg /= sig
 *         while today <= start:
 *             v = x[today]; today += 1; pf = (v-pf)*fk+pf; ps = (v-ps)*sk+ps
 *             m = pf - ps; psg = (m - psg)*gk + psg
 *         outm, outs = [m], [psg]
 *         while today < len(x):
 *             v = x[today]; today += 1; pf = (v-pf)*fk+pf; ps = (v-ps)*sk+ps
 *             m = pf - ps; psg = (m - psg)*gk + psg
 *             outm.append(m); outs.append(psg)
 *         return [None]*start + outm, [None]*start + outs
 *
 *     def series(seed=20251125, n=100):
 *         rnd = random.Random(seed); p = D('187.43'); out = []
 *         for i in range(n):
 *             r = D(repr(rnd.gauss(0.0003, 0.017)))
 *             p = (p * (1 + r)).quantize(D('0.01'))
 *             out.append(p)
 *         return out
 *
 *     if __name__ == '__main__':
 *         import sys
 *         x = series()
 *         m, s, h = macd(x, 12, 26, 9)
 *         tm, ts = talib_macd(x, 12, 26, 9)
 *         err = max(max(abs(float(a) - b), abs(float(c) - d))
 *                   for a, b, c, d in zip(m[33:], tm[33:], s[33:], ts[33:]))
 *         print('talib float port vs decimal max diff', err, file=sys.stderr)
 *         def emit(name, vals):
 *             print('static const char *%s[%d] = {' % (name, len(vals)))
 *             items = ['NULL' if v is None else
 *                      '"%s"' % (v if name == 'ref_close' else r8(v))
 *                      for v in vals]
 *             line = '   '
 *             for it in items:
 *                 if len(line) + len(it) + 2 > 78:
 *                     print(line); line = '   '
 *                 line += ' ' + it + ','
 *             print(line)
 *             print('};\n')
 *         emit('ref_close', x)
 *         emit('ref_sma20', sma(x, 20))
 *         emit('ref_ema10', ema(x, 10))
 *         emit('ref_rsi14', rsi(x, 14))
 *         emit('ref_macd', m); emit('ref_signal', s); emit('ref_hist', h)
 *         emit('ref_sd20', stddev(x, 20))
 *         up, mid, lo = bbands(x, 20, D(2), D(2))
 *         emit('ref_bb_upper', up)
 *         emit('ref_bb_middle', mid)
 *         emit('ref_bb_lower', lo)
 */
