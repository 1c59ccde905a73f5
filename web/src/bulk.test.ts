import { describe, expect, it } from 'vitest';
import { bulkToCsv, countListLines, csvCell } from './bulk';

const A = '++/hZFPrCDRre55vsZqqxQ==';
const B = 'AbCdEfGhIjKlMnOpQrStUv==';

describe('bulk lookup input', () => {
  it('counts one ISDN per line, skipping blanks and a header', () => {
    expect(countListLines(`isdn\r\n${A}\n\n${B}\n`)).toBe(2);
  });

  it('counts rows, not cells, of a file with several columns, its header found by name', () => {
    expect(countListLines(`\ufeffname;"ISDN";note\nAn;${A};x\nBình;${B};y\n`)).toBe(2);
    expect(countListLines(`${A},a,b\n${B},c,d`)).toBe(2);
  });
});

describe('bulk CSV', () => {
  it('writes a header, one row per result and quotes cells that need it', () => {
    const csv = bulkToCsv({
      requested: 2, found: 1, not_found: 1, cached: false, rejected_count: 0, rejected: [],
      results: [
        { isdn: A, found: true, recommendation: {
          isdn: A, subscriber_type: 'PRE', service_type: 'EasyCredit', advance_amount: 25000, revenue_per_advance: 7500,
          cluster_group: 1, bad_debt_risk: 'LOW', arpu_avg_6m: 2757.5, arpu_growth_rate: -56.7, arpu_trend: 'Giảm, mạnh',
          customer_value_score: 70, advance_readiness_score: 90, recommendation_date: '2025-10-22', priority: 'HIGH', priority_score: 63,
        } },
        { isdn: B, found: false },
      ],
    });
    const lines = csv.replace(/^\ufeff/, '').trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[0].startsWith('isdn,found,subscriber_type,service_type,advance_amount')).toBe(true);
    expect(lines[1]).toContain(`"'${A}",true,PRE,EasyCredit,25000,7500,1,LOW,2757.5,-56.7,"Giảm, mạnh",70,90`);
    expect(lines[2]).toBe(`${B},false${','.repeat(14)}`);
  });

  it('writes text cells a spreadsheet would read as formulas as text', () => {
    expect(['=1+1', '+84x==', '-AB==', '@SUM(A1)'].map(csvCell)).toEqual(["\"'=1+1\"", "\"'+84x==\"", "\"'-AB==\"", "\"'@SUM(A1)\""]);
    expect(csvCell(-56.7)).toBe('-56.7');
  });
});
