-- The model the default sync keeps in Asana: one row per account at churn risk that needs a CSM
-- follow-up. Sources (seeds): accounts (CRM), usage_signals (weekly product usage), manual_overrides
-- (the CS team's hand-kept sheet of per-account adjustments, where the deliberate data mistakes live).

WITH at_risk AS (
    SELECT
        a.*, s.*,
        CASE
            WHEN s.exec_sponsor_left THEN 'executive sponsor left'
            WHEN a.health_score < 40 THEN 'health score ' || a.health_score
            WHEN s.active_users_change_pct >= 30 THEN 'active users down ' || s.active_users_change_pct || '%'
            WHEN s.open_tickets >= 8 THEN s.open_tickets || ' open tickets'
            ELSE 'renewal on ' || strftime(a.renewal_date, '%b %-d')
        END AS risk_reason,
        s.open_tickets >= 11 AND s.active_users_change_pct >= 20 AND NOT s.exec_sponsor_left AS urgent
    FROM {{ ref('accounts') }} a JOIN {{ ref('usage_signals') }} s USING (account_id)
    WHERE a.health_score < 70 OR s.active_users_change_pct >= 20 OR s.exec_sponsor_left
       OR s.open_tickets >= 8 OR a.renewal_date < DATE '2027-03-01'
),
shaped AS (
    SELECT
        r.*,
        o.title, o.assignee AS assignee_override, o.due_on AS due_on_override, o.due_at AS due_at_override,
        o.due_mode, o.start_on AS start_on_override, o.notes_html, o.extra_tags, o.custom_fields_json,
        o.task_gid AS task_gid_override,
        greatest(r.week_of + INTERVAL 3 DAY, least(r.renewal_date - INTERVAL 30 DAY, r.week_of + INTERVAL 14 DAY))::DATE
            AS default_due
    FROM at_risk r LEFT JOIN {{ ref('manual_overrides') }} o USING (account_id)
)
SELECT
    account_id AS id,
    coalesce(title, 'Churn risk: ' || account_name || ' (' || risk_reason || ')') AS name,
    CASE WHEN segment <> 'enterprise' AND notes_html IS NULL THEN
        account_name || ': ' || risk_reason || '. ' || open_tickets || ' open tickets, last login '
        || last_login_days || ' days ago. Renewal ' || renewal_date || ', ARR $' || arr_usd || '.'
    END AS notes,
    coalesce(notes_html, CASE WHEN segment = 'enterprise' THEN
        '<body><strong>' || account_name || '</strong>: ' || risk_reason || '<ul><li>Open tickets: '
        || open_tickets || '</li><li>Active users change: ' || active_users_change_pct
        || '%</li><li>Renewal: ' || renewal_date || '</li></ul></body>'
    END) AS html_notes,
    CASE
        WHEN due_mode = 'none' THEN NULL
        WHEN due_on_override IS NOT NULL THEN due_on_override::DATE
        WHEN urgent THEN NULL
        ELSE default_due
    END AS due_on,
    CASE
        WHEN due_at_override IS NOT NULL THEN due_at_override::TIMESTAMPTZ
        WHEN urgent AND due_mode IS NULL THEN (week_of + INTERVAL 3 DAY + INTERVAL 17 HOUR)::TIMESTAMP AT TIME ZONE 'UTC'
    END AS due_at,
    CASE
        WHEN start_on_override IS NOT NULL THEN start_on_override::DATE
        WHEN segment = 'enterprise' AND NOT urgent AND renewal_date >= DATE '2026-12-20' THEN (default_due - INTERVAL 7 DAY)::DATE
    END AS start_on,
    coalesce(assignee_override, CASE WHEN csm_email = 'alan@acme.example' THEN '1200000000000013' ELSE csm_email END)
        AS assignee,
    concat_ws(CASE WHEN health_score % 2 = 0 THEN ', ' ELSE ',' END,
        'churn-risk',
        CASE WHEN segment = 'enterprise' THEN 'enterprise' ELSE 'Mid-Market' END,
        CASE WHEN renewal_date < week_of + INTERVAL 60 DAY THEN 'renewal' END,
        CASE WHEN exec_sponsor_left THEN 'exec-sponsor' END,
        extra_tags) AS tags,
    followup_done AS completed,
    CASE WHEN urgent THEN 'In progress' ELSE 'To triage' END AS section,
    arr_usd AS "custom_fields.ARR (USD)",
    CASE WHEN health_score < 40 THEN 'Red' WHEN health_score < 70 THEN 'yellow' ELSE 'Green' END AS "custom_fields.Health",
    replace(products, '|', ', ') AS "custom_fields.Products",
    renewal_date AS "custom_fields.Renewal date",
    ae_email AS "custom_fields.Account executive",
    custom_fields_json AS custom_fields,
    task_gid_override AS task_gid,
    CASE WHEN segment = 'mid-market' AND renewal_date < DATE '2026-12-15' AND start_on_override IS NULL
         THEN 'milestone' ELSE 'default_task' END AS resource_subtype,
    signal_updated_at AS updated_at
FROM shaped
ORDER BY id
