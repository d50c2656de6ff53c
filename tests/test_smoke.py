from tests.factories import sign_form


def test_customer_signs_through_the_portal(app, client, make, open_link):
    delivered = make.delivered()
    page = open_link(client, delivered.token)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    import re

    seen = re.search(r'name="seen_hash" value="([0-9a-f]{64})"', html).group(1)
    option = re.findall(r'name="option" value="(\d+)"', html)[0]
    response = client.post(
        f"/p/proposals/{delivered.proposal.id}/sign", data=sign_form(delivered.proposal, [option], seen_hash=seen)
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    signed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Signed by Cora Contact" in signed
