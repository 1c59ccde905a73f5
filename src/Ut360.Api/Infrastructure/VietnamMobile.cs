using System.Collections.Frozen;
using System.Globalization;
using PhoneNumbers;

namespace Ut360.Api.Infrastructure;

/// Vietnamese mobile numbers as people write them, turned into the digits an ISDN encrypts
/// ("84" and the 9-digit national number, e.g. 84912345678).
public static class VietnamMobile
{
    static readonly PhoneNumberUtil Numbers = PhoneNumberUtil.GetInstance();

    // What a written number holds besides digits. Letters are refused before the library sees
    // them: it reads "0912abc456" as the vanity number 0912 222 456.
    static readonly System.Buffers.SearchValues<char> Written = System.Buffers.SearchValues.Create("0123456789 +-.()\u00a0");

    /// Vietnam's 2018 renumbering of 11-digit mobile numbers (Ministry of Information and
    /// Communications, decision 798/QĐ-BTTTT; switched over September–November 2018): the
    /// three-digit prefix 1XY of a national number became the two digits here; the last seven
    /// digits stayed. libphonenumber no longer knows the old ranges, so they are mapped first.
    static readonly FrozenDictionary<string, string> Renumbered = new Dictionary<string, string>
    {
        // Viettel
        ["162"] = "32", ["163"] = "33", ["164"] = "34", ["165"] = "35",
        ["166"] = "36", ["167"] = "37", ["168"] = "38", ["169"] = "39",
        // MobiFone
        ["120"] = "70", ["121"] = "79", ["122"] = "77", ["126"] = "76", ["128"] = "78",
        // VinaPhone
        ["123"] = "83", ["124"] = "84", ["125"] = "85", ["127"] = "81", ["129"] = "82",
        // Vietnamobile, Gmobile
        ["186"] = "56", ["188"] = "58", ["199"] = "59",
    }.ToFrozenDictionary();

    /// The "84…" digits of a Vietnamese mobile number written in any usual way: national
    /// ("0912 345 678"), international ("+84 91 234 5678", "84-912-345-678", "(+84) 912345678",
    /// "0084912345678"), with the national 0 kept after the country code ("+840912345678"), or
    /// in its pre-2018 11-digit form ("0166 234 5678" → 84362345678). Null when the text cannot
    /// be a Vietnamese mobile number (another country, a landline, too few digits, letters).
    public static string? Normalise(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > 40 || text.AsSpan().IndexOfAnyExcept(Written) >= 0)
            return null;
        PhoneNumber number;
        try
        {
            number = Numbers.Parse(text, "VN");
        }
        catch (NumberParseException)
        {
            return null;   // the library has no TryParse; its exception is its "no"
        }
        if (number.CountryCode != 84 || number.HasExtension)
            return null;
        var national = number.NationalNumber.ToString(CultureInfo.InvariantCulture);
        if (national.Length == 10 && Renumbered.TryGetValue(national[..3], out var prefix))
        {
            national = prefix + national[3..];
            number = Numbers.Parse("+84" + national, "VN");
        }
        return Numbers.IsValidNumberForRegion(number, "VN") && Numbers.GetNumberType(number) == PhoneNumberType.MOBILE
            ? "84" + national
            : null;
    }
}
