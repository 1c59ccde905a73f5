using System.Text;

namespace Ut360.Cli.Generate;

/// Vietnamese number formatting for the generated sentences ("25.000₫", "12,5%"), written by hand
/// so the text does not depend on the machine's ICU data and stays byte-identical everywhere.
static class ViText
{
    public static StringBuilder Vnd(this StringBuilder sb, double amount)
    {
        Grouped(sb, (long)Math.Round(amount, MidpointRounding.AwayFromZero));
        return sb.Append('₫');
    }

    /// One decimal with a decimal comma, thousands grouped with dots: 1.234,5.
    public static StringBuilder Dec1(this StringBuilder sb, double value)
    {
        var tenths = (long)Math.Round(value * 10, MidpointRounding.AwayFromZero);
        if (tenths < 0)
        {
            sb.Append('-');
            tenths = -tenths;
        }
        Grouped(sb, tenths / 10);
        return sb.Append(',').Append((char)('0' + tenths % 10));
    }

    /// Two decimals with a decimal comma, trailing zeros dropped: 70, 70,5, 63,25.
    public static StringBuilder Dec2(this StringBuilder sb, double value)
    {
        var hundredths = (long)Math.Round(value * 100, MidpointRounding.AwayFromZero);
        if (hundredths < 0)
        {
            sb.Append('-');
            hundredths = -hundredths;
        }
        Grouped(sb, hundredths / 100);
        var frac = hundredths % 100;
        if (frac != 0)
        {
            sb.Append(',').Append((char)('0' + frac / 10));
            if (frac % 10 != 0)
                sb.Append((char)('0' + frac % 10));
        }
        return sb;
    }

    static void Grouped(StringBuilder sb, long value)
    {
        if (value < 0)
        {
            sb.Append('-');
            value = -value;
        }
        if (value < 1000)
        {
            sb.Append(value);
            return;
        }
        Grouped(sb, value / 1000);
        var rest = value % 1000;
        sb.Append('.').Append((char)('0' + rest / 100)).Append((char)('0' + rest / 10 % 10)).Append((char)('0' + rest % 10));
    }

    /// Starts one element of a JSON array of strings being built in sb ("[" already written).
    /// The sentence templates hold no quote, backslash or control character, so the text is
    /// appended as is (a test parses every generated array).
    public static StringBuilder Item(this StringBuilder sb) => sb.Append(sb[^1] == '[' ? "\"" : ",\"");

    public static StringBuilder EndItem(this StringBuilder sb) => sb.Append('"');
}
