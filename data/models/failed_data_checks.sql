-- The data_checks sync's model (asana_sync_pipeline/defs/data_checks): one row per data-quality check
-- that is failing, for the data team's "Data Quality Incidents" project. Source: the seed
-- data_check_results (the latest result of each check).

SELECT
    check_id,
    'Failing check: ' || check_name AS name,
    table_name || ': ' || description || ' failed for ' || failing_rows || ' rows (last run '
        || strftime(last_run_at, '%Y-%m-%d %H:%M') || ' UTC).' AS notes,
    (last_run_at::DATE + CASE severity WHEN 'Critical' THEN 1 WHEN 'High' THEN 2 ELSE 7 END) AS due_on,
    owner_email AS assignee,
    severity AS "custom_fields.Severity",
    check_name AS "custom_fields.Check name",
    CASE WHEN failing_rows > 500 THEN 'Investigating' ELSE 'New' END AS section,
    last_run_at AS updated_at
FROM {{ ref('data_check_results') }}
WHERE status = 'failing'
ORDER BY check_id
